#include "search/plan_executor.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "core/error.h"
#include "core/format.h"
#include "core/log.h"
#include "core/progress.h"
#include "data/synthetic_task.h"
#include "infer/task_accuracy.h"
#include "model/device.h"
#include "model/frozen_teacher.h"
#include "model/weights.h"
#include "search/provenance.h"
#include "search/stage_rescoring.h"
#include "store/bootstrap.h"
#include "store/results_store.h"
#include "train/teacher_training.h"

namespace hybridize::search {

namespace {

// The positions to run: those asked for and every ancestor of them.
std::set<int64_t> needed_positions(const store::PlanRecord& plan, const std::vector<int64_t>& asked) {
  std::map<int64_t, const store::StageRecord*> by_position;
  for (const auto& stage : plan.stages) by_position[stage.position] = &stage;
  std::set<int64_t> needed;
  for (const int64_t position : asked.empty() ? std::vector<int64_t>{} : asked) {
    if (!by_position.count(position))
      fail("--stages: plan ", plan.id, " has no stage ", position, " (it has 0..", plan.stages.size() - 1, ")");
    for (auto at = std::optional<int64_t>(position); at; at = by_position.at(*at)->parent_position) needed.insert(*at);
  }
  if (asked.empty())
    for (const auto& stage : plan.stages) needed.insert(stage.position);
  return needed;
}

nlohmann::json summary_json(const store::MetricSummary& summary) {
  return {{"mean", summary.value},
          {"ci_low", summary.ci_low.value_or(summary.value)},
          {"ci_high", summary.ci_high.value_or(summary.value)},
          {"samples", summary.samples}};
}

// Per sample: 1 when greedy generation reaches the expected answer (what LOO's `accuracy` measures of the teacher).
std::vector<double> generation_accuracy(model::CausalLMImpl& student, const train::SequenceSet& eval_set,
                                        int64_t batch) {
  std::vector<double> correct;
  for (int64_t begin = 0; begin < eval_set.size(); begin += batch) {
    const auto part =
        infer::answers_correct(student, infer::task_answers(eval_set.prompts, eval_set.answers, eval_set.loss_mask,
                                                            begin, std::min(eval_set.size(), begin + batch)));
    correct.insert(correct.end(), part.begin(), part.end());
  }
  return correct;
}

// " on rank 1 of 2" in a data-parallel job: each rank reports its own memory.
std::string rank_label(const train::DataParallel& parallel) {
  if (!parallel.distributed()) return "";
  return " on rank " + std::to_string(parallel.rank()) + " of " + std::to_string(parallel.ranks());
}

// What every stage of one execution shares: the store, the plan, the frozen
// teacher the plan's run scored, the data, and the students made so far.
class PlanExecution {
 public:
  explicit PlanExecution(const ExecuteOptions& options)
      : options(options),
        results(options.database),
        plan(results.find_plan(options.plan_id)),
        run(*results.find_run_by_id(plan.run_id)),
        teacher(open_teacher()),
        train_set(train::load_sequences(options.train_data, teacher.model->config.vocab_size)),
        eval_set(train::load_sequences(options.eval_data, teacher.model->config.vocab_size)),
        plan_dir(options.out_dir / ("plan-" + std::to_string(plan.id))) {
    if (leader()) log_info("distill: loss counted on ", train_set.counted);
  }

  bool leader() const { return options.parallel.leader(); }
  std::filesystem::path stage_dir(int64_t position) const { return plan_dir / ("stage-" + std::to_string(position)); }

  // A finished stage's student, loaded once (a stage's model is saved in the teacher's precision).
  model::CausalLMImpl& student(int64_t position) {
    auto found = students.find(position);
    if (found == students.end()) {
      auto load = teacher.load;
      load.layout.reset();
      found = students.emplace(position, model::load_causal_lm(stage_dir(position) / "model", load)).first;
    }
    return *found->second;
  }

  // The layout `stage` trains: the plan's, or for a stage of the paper's
  // schedule the one MMR probes on its parent's student rank best (stored, with
  // the probes in `kept`, so a resumed stage trains the same layout).
  std::string layout_of(const store::StageRecord& stage, model::CausalLMImpl& parent, nlohmann::json& kept) {
    if (!stage.rescore || !stage.parent_position) return stage.layout;
    std::vector<int64_t> new_layers;
    if (leader()) {
      log_info("stage ", stage.position, ": re-ranking the attention layers of ", parent.layout.to_string(),
               " by MMR probes");
      const auto keep = plan.config.value("keep", std::vector<int64_t>{});
      const int64_t count = stage.mamba_layers - parent.layout.count(model::MixerKind::Mamba);
      auto probe = options.rescore;  // the stage's own SSM size and seed
      probe.d_state = options.settings.d_state;
      probe.seed = options.settings.seed;
      probe.warmup_steps = std::min(probe.warmup_steps, probe.steps);  // short probes (--rescore-steps) warm up less
      const auto ranked = rescore_stage(parent, count, {keep.begin(), keep.end()}, train_set, eval_set, probe);
      new_layers = ranked.new_layers;
      kept["rescore"] = {{"probes", ranked.probes}, {"provisional_layout", stage.layout}};
      results.update_stage_layout(stage.id, ranked.layout.to_string(), new_layers);
    }
    if (options.parallel.distributed()) new_layers = options.parallel.group->broadcast_values(new_layers, 0);
    return parent.layout.with(model::MixerKind::Mamba, new_layers).to_string();
  }

  // Distils `stage` from `parent` (every rank); rank 0 then saves, evaluates and records it.
  StageOutcome train_stage(const store::StageRecord& stage, model::CausalLMImpl& parent, const std::string& layout,
                           const nlohmann::json& kept) {
    const auto started = std::chrono::steady_clock::now();
    ProgressReporter progress("stage " + std::to_string(stage.position), 0, options.settings.steps,
                              ProgressReporter::stderr_is_terminal(),
                              std::max<int64_t>(1, options.settings.steps / 20));
    train::TrainingRun stage_run;
    stage_run.checkpoint_dir = stage_dir(stage.position) / "checkpoints";
    stage_run.checkpoint_every = options.checkpoint_every;
    stage_run.checkpoint_activations = options.checkpoint_activations;
    stage_run.parallel = options.parallel;
    stage_run.stop_after = options.stop_after;
    if (!options.quiet && leader())
      stage_run.on_step = [&](const train::StepProgress& step) {
        progress.update(step.step, "loss " + std::to_string(step.loss));
      };
    const at::Device device = teacher.load.device;
    model::reset_peak_memory(device);
    auto result = train::distill_stage(*teacher.model, parent,
                                       model::Layout::parse(layout, teacher.model->config.num_layers, "stage layout"),
                                       train_set, options.settings, stage_run);
    if (!options.quiet && leader()) progress.finish();
    const double tokens_per_second = result.step_seconds > 0 ? double(result.tokens_this_run) / result.step_seconds : 0;
    const auto peak_memory = model::peak_memory_bytes(device);
    log_info("stage ", stage.position, rank_label(options.parallel), ": ", format_count(int64_t(tokens_per_second)),
             " tokens/s over ", format_duration(result.step_seconds), " of steps",
             peak_memory ? ", peak device memory " + format_bytes(*peak_memory) : std::string());
    if (options.stop_after && *options.stop_after < options.settings.steps)
      return {stage.position, layout, "stopped", nlohmann::json::object()};
    students.insert_or_assign(stage.position, result.student);
    if (!leader()) return {stage.position, layout, "done", nlohmann::json::object()};

    const auto model_dir = stage_dir(stage.position) / "model";
    model::save_causal_lm(*result.student, model_dir);
    nlohmann::json metrics = kept;
    metrics.update(
        nlohmann::json{{"settings", options.settings.to_json()},
                       {"train_data", train_set.spec},
                       {"eval_data", eval_set.spec},
                       {"curve", result.curve},
                       {"tokens", result.tokens},
                       {"train_tokens_per_second", tokens_per_second},
                       {"peak_memory_bytes", peak_memory ? nlohmann::json(*peak_memory) : nlohmann::json()},
                       {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()}});
    metrics.update(evaluate(stage, *result.student));
    results.update_stage(stage.id, "done", model_dir.string(), metrics);
    return {stage.position, layout, "done", metrics};
  }

  // The teacher's benchmark evaluations, once an execution (resumed from the store when done before).
  void evaluate_teacher() {
    if (!benchmarks_here()) return;
    // open_teacher checked that the teacher is the run's: its record is the run's model.
    for (const auto& task : options.eval_tasks) {
      const auto outcome =
          infer::evaluate(results, *teacher.model, run.model, teacher_dir(), task, options.eval_settings);
      log_benchmark("teacher", task, outcome);
      evaluations[{-1, task.name}] = outcome.evaluation.id;
    }
  }

  // Evaluates a distilled stage on the benchmark tasks; returns why its quality gate stops the plan, if it does.
  std::optional<std::string> evaluate_stage(const store::StageRecord& stage) {
    if (!benchmarks_here()) return std::nullopt;
    auto& student_model = student(stage.position);
    const auto model_dir = stage_dir(stage.position) / "model";
    const auto record = describe_model(model_dir, student_model);
    store::EvaluationStore stored(results);
    std::vector<GatedTask> gated;
    for (const auto& task : options.eval_tasks) {
      const auto outcome =
          infer::evaluate(results, student_model, record, teacher_dir(), task, options.eval_settings, stage.id);
      log_benchmark("stage " + std::to_string(stage.position), task, outcome);
      evaluations[{stage.position, task.name}] = outcome.evaluation.id;
      if (!options.gate.enabled()) continue;
      // The judged outcomes alone: the gate needs no generated text.
      const auto outcomes = [&](int64_t id) { return stored.samples(id, /*with_completions=*/false); };
      GatedTask entry{task.name, {}, {}, outcomes(outcome.evaluation.id)};
      if (const auto found = evaluations.find({-1, task.name}); found != evaluations.end())
        entry.teacher = outcomes(found->second);
      if (stage.parent_position)
        if (const auto found = evaluations.find({*stage.parent_position, task.name}); found != evaluations.end())
          entry.parent = outcomes(found->second);
      gated.push_back(std::move(entry));
    }
    return options.gate.enabled() ? gate_verdict(options.gate, gated, options.eval_settings.seed) : std::nullopt;
  }

  // A stage after one its quality gate stopped: recorded as skipped, with why.
  StageOutcome skip(const store::StageRecord& stage, const std::string& why) {
    const nlohmann::json metrics = {{"gated", why}};
    if (leader()) {
      results.update_stage(stage.id, "skipped", "", metrics);
      log_info("stage ", stage.position, ": skipped, the quality gate stopped the plan: ", why);
    }
    return {stage.position, stage.layout, "skipped", metrics};
  }

  // A stage that failed: the store says why; a rerun starts it again.
  void record_failure(const store::StageRecord& stage, nlohmann::json kept, const std::exception& error) {
    if (!leader()) return;
    const std::string message = error.what();
    kept["error"] = message.substr(0, message.find('\n'));  // LibTorch's errors carry a backtrace after it
    results.update_stage(stage.id, "failed", (stage_dir(stage.position) / "model").string(), kept);
  }

  const ExecuteOptions& options;
  store::ResultsStore results;
  const store::PlanRecord plan;
  const store::RunRecord run;
  model::FrozenTeacher teacher;

 private:
  std::filesystem::path teacher_dir() const {
    return options.model_dir.empty() ? std::filesystem::path(run.model.path) : options.model_dir;
  }

  bool benchmarks_here() const { return !options.eval_tasks.empty() && !options.parallel.distributed(); }

  void log_benchmark(const std::string& who, const data::EvalTask& task, const infer::EvalOutcome& outcome) {
    const auto& pass = outcome.summary.pass_at_1;
    char line[160];
    std::snprintf(line, sizeof line, "%s: %s pass@1 %.1f%% [%.1f, %.1f] over %lld problems (%lld generated now)",
                  who.c_str(), task.name.c_str(), 100 * pass.value, 100 * pass.ci_low.value_or(pass.value),
                  100 * pass.ci_high.value_or(pass.value), (long long)outcome.summary.problems,
                  (long long)outcome.generated);
    log_info(line);
  }

  // The teacher the plan's run scored, found where it was scored or at --model if it moved.
  model::FrozenTeacher open_teacher() {
    const std::filesystem::path dir = teacher_dir();
    io::require_hybrid_format(io::read_transformer_config(dir));
    auto frozen = model::load_frozen_teacher(dir, options.device, options.dtype);
    // The plan was made from this run's scores of one teacher: --model may say where it moved, never swap it.
    if (const auto found = describe_model(dir, *frozen.model); found.content_hash != run.model.content_hash)
      fail(dir.string(), ": not the teacher run '", run.name, "' scored (", run.model.path, "): its config or weights ",
           "differ (content hash ", found.content_hash.substr(0, 12), ", stored ", run.model.content_hash.substr(0, 12),
           "); score this teacher in a run of its own");
    return frozen;
  }

  // The stage's evaluation on the held-out set, sample by sample and summarised.
  nlohmann::json evaluate(const store::StageRecord& stage, model::CausalLMImpl& student) {
    nlohmann::json metrics;
    const store::BootstrapOptions bootstrap{options.bootstrap_resamples, 0.95, options.eval_data.seed};
    auto evaluation = train::evaluate_student(*teacher.model, student, eval_set, options.eval_batch);
    if (!eval_set.answers.empty()) evaluation["accuracy"] = generation_accuracy(student, eval_set, options.eval_batch);
    for (const auto& [name, values] : evaluation) {
      for (std::size_t i = 0; i < values.size(); ++i)
        if (!std::isfinite(values[i]))
          fail("stage ", stage.position, ": evaluation '", name, "' of sample ", i, " is ", values[i],
               "; the teacher's or the student's outputs are not finite");
      metrics["eval"][name] = summary_json(store::bootstrap_mean(values, bootstrap));
      // Every stage is evaluated on the same samples: the report compares stages sample by sample.
      metrics["eval_samples"][name] = values;
    }
    if (options.eval_data.source == "synthetic") {
      const auto problems =
          data::synthetic::generate_split(options.eval_data.task, data::parse_split(options.eval_data.split),
                                          std::size_t(options.eval_data.samples), options.eval_data.seed);
      const auto accuracy = train::teacher_forced_accuracy(student, problems, options.eval_batch);
      metrics["eval"]["answer_accuracy"] = accuracy.answer_accuracy();
      metrics["eval"]["token_accuracy"] = accuracy.token_accuracy();
    }
    return metrics;
  }

  const train::SequenceSet train_set, eval_set;
  const std::filesystem::path plan_dir;
  std::map<int64_t, model::CausalLM> students;                     // position -> student, loaded or trained
  std::map<std::pair<int64_t, std::string>, int64_t> evaluations;  // (position, -1 the teacher; task) -> evaluation id
};

}  // namespace

std::vector<StageOutcome> execute_plan(const ExecuteOptions& options) {
  if (options.gate.enabled() && options.eval_tasks.empty())
    fail("a quality gate needs benchmark tasks to evaluate the stages on");
  if (options.gate.enabled() && options.parallel.distributed())
    fail(
        "a quality gate needs a single-process run: evaluating a stage would hold the job's other ranks past "
        "their collectives' timeout; distil with the job, then `hybridize eval --plan`");
  PlanExecution execution(options);
  const auto needed = needed_positions(execution.plan, options.stages);
  if (options.parallel.distributed() && !options.eval_tasks.empty() && execution.leader())
    log_info("distill: benchmark evaluation is left to `hybridize eval --plan ", execution.plan.id,
             "` in a job of several ranks");
  execution.evaluate_teacher();
  std::map<int64_t, std::string> stopped;  // position -> why the quality gate stopped the plan there or above
  std::vector<StageOutcome> outcomes;
  for (const auto& stage : execution.plan.stages) {
    if (!needed.count(stage.position)) continue;
    const bool done = stage.status == "done";
    if (stage.parent_position && stopped.count(*stage.parent_position)) {
      // A stage distilled before a gate was set keeps its results; one not yet distilled is not.
      stopped[stage.position] = stopped.at(*stage.parent_position);
      outcomes.push_back(
          done ? StageOutcome{stage.position, stage.layout, "done", execution.results.stage_metrics(stage.id)}
               : execution.skip(stage, stopped.at(stage.position)));
      continue;
    }
    if (done) {
      outcomes.push_back({stage.position, stage.layout, "done", execution.results.stage_metrics(stage.id)});
      if (const auto why = execution.evaluate_stage(stage))
        stopped[stage.position] = "stage " + std::to_string(stage.position) + ": " + *why;
      continue;
    }
    model::CausalLMImpl& parent =
        stage.parent_position ? execution.student(*stage.parent_position) : *execution.teacher.model;
    // Probe results of a re-ranking survive the stage's restarts.
    nlohmann::json kept = nlohmann::json::object();
    if (const auto before = execution.results.stage_metrics(stage.id); before.contains("rescore"))
      kept["rescore"] = before["rescore"];
    const std::string layout = execution.layout_of(stage, parent, kept);
    if (execution.leader())
      execution.results.update_stage(stage.id, "running", (execution.stage_dir(stage.position) / "model").string(),
                                     kept);
    try {
      outcomes.push_back(execution.train_stage(stage, parent, layout, kept));
    } catch (const std::exception& error) {
      execution.record_failure(stage, kept, error);
      throw;
    }
    if (outcomes.back().status == "stopped") break;
    if (const auto why = execution.evaluate_stage(stage))
      stopped[stage.position] = "stage " + std::to_string(stage.position) + ": " + *why;
  }
  // The job ends together: rank 0 hosts the store the others' process group talks to.
  if (options.parallel.distributed()) options.parallel.group->barrier();
  return outcomes;
}

}  // namespace hybridize::search
