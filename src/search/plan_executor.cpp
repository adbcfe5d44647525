#include "search/plan_executor.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <map>
#include <set>

#include "core/error.h"
#include "core/format.h"
#include "core/log.h"
#include "core/progress.h"
#include "data/synthetic_task.h"
#include "model/weights.h"
#include "model/device.h"
#include "model/frozen_teacher.h"
#include "search/provenance.h"
#include "search/stage_rescoring.h"
#include "search/task_accuracy.h"
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
  return {{"mean", summary.value}, {"ci_low", summary.ci_low.value_or(summary.value)},
          {"ci_high", summary.ci_high.value_or(summary.value)}, {"samples", summary.samples}};
}

// Per sample: 1 when greedy generation reaches the expected answer (what LOO's `accuracy` measures of the teacher).
std::vector<double> generation_accuracy(model::CausalLMImpl& student, const train::SequenceSet& eval_set, int64_t batch) {
  std::vector<double> correct;
  for (int64_t begin = 0; begin < eval_set.size(); begin += batch) {
    const auto part = answers_correct(student, task_answers(eval_set, begin, std::min(eval_set.size(), begin + batch)));
    correct.insert(correct.end(), part.begin(), part.end());
  }
  return correct;
}

// " on rank 1 of 2" in a data-parallel job: each rank reports its own memory.
std::string rank_label(const train::DataParallel& parallel) {
  if (!parallel.distributed()) return "";
  return " on rank " + std::to_string(parallel.rank()) + " of " + std::to_string(parallel.ranks());
}

}  // namespace

std::vector<StageOutcome> execute_plan(const ExecuteOptions& options) {
  store::ResultsStore results(options.database);
  const auto plan = results.find_plan(options.plan_id);
  const auto run = *results.find_run_by_id(plan.run_id);
  const std::filesystem::path model_dir = options.model_dir.empty() ? std::filesystem::path(run.model.path) : options.model_dir;
  io::require_hybrid_format(io::read_transformer_config(model_dir));
  auto frozen = model::load_frozen_teacher(model_dir, options.device, options.dtype);
  auto& teacher = frozen.model;
  const model::LoadOptions& load = frozen.load;
  const at::Device device = load.device;
  // The plan was made from this run's scores of one teacher: --model may say where it moved, never swap it.
  if (const auto found = describe_model(model_dir, *teacher); found.content_hash != run.model.content_hash)
    fail(model_dir.string(), ": not the teacher run '", run.name, "' scored (", run.model.path, "): its config or weights ",
         "differ (content hash ", found.content_hash.substr(0, 12), ", stored ", run.model.content_hash.substr(0, 12),
         "); score this teacher in a run of its own");
  const auto train_set = train::load_sequences(options.train_data, teacher->config.vocab_size);
  const auto eval_set = train::load_sequences(options.eval_data, teacher->config.vocab_size);
  if (options.parallel.leader()) log_info("distill: loss counted on ", train_set.counted);

  const auto needed = needed_positions(plan, options.stages);
  const auto plan_dir = options.out_dir / ("plan-" + std::to_string(plan.id));
  std::map<int64_t, model::CausalLM> students;  // position -> student, loaded or trained
  auto student_of = [&](int64_t position) -> model::CausalLMImpl& {
    auto found = students.find(position);
    if (found == students.end()) {
      auto student_load = load;  // a stage's model is saved in the teacher's precision
      student_load.layout.reset();
      const auto directory = plan_dir / ("stage-" + std::to_string(position)) / "model";
      found = students.emplace(position, model::load_causal_lm(directory, student_load)).first;
    }
    return *found->second;
  };

  const bool leader = options.parallel.leader();
  std::vector<StageOutcome> outcomes;
  for (const auto& stage : plan.stages) {
    if (!needed.count(stage.position)) continue;
    const auto stage_dir = plan_dir / ("stage-" + std::to_string(stage.position));
    if (stage.status == "done") {
      outcomes.push_back({stage.position, stage.layout, "done", results.stage_metrics(stage.id)});
      continue;
    }
    model::CausalLMImpl& parent = stage.parent_position ? student_of(*stage.parent_position) : *teacher;
    // Probe results of a re-ranking survive the stage's restarts.
    nlohmann::json kept = nlohmann::json::object();
    if (const auto before = results.stage_metrics(stage.id); before.contains("rescore")) kept["rescore"] = before["rescore"];
    std::string layout = stage.layout;
    if (stage.rescore && stage.parent_position) {
      std::vector<int64_t> new_layers;
      if (leader) {
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
      layout = parent.layout.with(model::MixerKind::Mamba, new_layers).to_string();
    }
    if (leader) results.update_stage(stage.id, "running", (stage_dir / "model").string(), kept);
    try {
      const auto started = std::chrono::steady_clock::now();
      ProgressReporter progress("stage " + std::to_string(stage.position), 0, options.settings.steps,
                                ProgressReporter::stderr_is_terminal(), std::max<int64_t>(1, options.settings.steps / 20));
      train::TrainingRun stage_run;
      stage_run.checkpoint_dir = stage_dir / "checkpoints";
      stage_run.checkpoint_every = options.checkpoint_every;
      stage_run.checkpoint_activations = options.checkpoint_activations;
      stage_run.parallel = options.parallel;
      stage_run.stop_after = options.stop_after;
      if (!options.quiet && leader)
        stage_run.on_step = [&](const train::StepProgress& step) {
          progress.update(step.step, "loss " + std::to_string(step.loss));
        };
      model::reset_peak_memory(device);
      auto result = train::distill_stage(*teacher, parent, model::Layout::parse(layout, teacher->config.num_layers,
                                                                                "stage layout"),
                                         train_set, options.settings, stage_run);
      if (!options.quiet && leader) progress.finish();
      const double tokens_per_second = result.step_seconds > 0 ? double(result.tokens_this_run) / result.step_seconds : 0;
      const auto peak_memory = model::peak_memory_bytes(device);
      log_info("stage ", stage.position, rank_label(options.parallel), ": ", format_count(int64_t(tokens_per_second)),
               " tokens/s over ", format_duration(result.step_seconds), " of steps",
               peak_memory ? ", peak device memory " + format_bytes(*peak_memory) : std::string());
      if (options.stop_after && *options.stop_after < options.settings.steps) {
        outcomes.push_back({stage.position, layout, "stopped", nlohmann::json::object()});
        break;
      }
      if (!leader) {
        students.insert_or_assign(stage.position, result.student);
        outcomes.push_back({stage.position, layout, "done", nlohmann::json::object()});
        continue;
      }
      model::save_causal_lm(*result.student, stage_dir / "model");

      nlohmann::json metrics = kept;
      metrics.update(nlohmann::json{
          {"settings", options.settings.to_json()},
          {"train_data", train_set.spec},
          {"eval_data", eval_set.spec},
          {"curve", result.curve},
          {"tokens", result.tokens},
          {"train_tokens_per_second", tokens_per_second},
          {"peak_memory_bytes", peak_memory ? nlohmann::json(*peak_memory) : nlohmann::json()},
          {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()}});
      const store::BootstrapOptions bootstrap{options.bootstrap_resamples, 0.95, options.eval_data.seed};
      auto evaluation = train::evaluate_student(*teacher, *result.student, eval_set, options.eval_batch);
      if (!eval_set.answers.empty()) evaluation["accuracy"] = generation_accuracy(*result.student, eval_set, options.eval_batch);
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
        const auto problems = data::synthetic::generate_split(options.eval_data.task, train::parse_split(options.eval_data.split),
                                                              std::size_t(options.eval_data.samples), options.eval_data.seed);
        const auto accuracy = train::teacher_forced_accuracy(*result.student, problems, options.eval_batch);
        metrics["eval"]["answer_accuracy"] = accuracy.answer_accuracy();
        metrics["eval"]["token_accuracy"] = accuracy.token_accuracy();
      }
      results.update_stage(stage.id, "done", (stage_dir / "model").string(), metrics);
      students.insert_or_assign(stage.position, result.student);
      outcomes.push_back({stage.position, layout, "done", metrics});
    } catch (const std::exception& error) {
      // The store says why the stage stopped; a rerun starts it again.
      if (leader) {
        auto failed = kept;
        const std::string message = error.what();
        failed["error"] = message.substr(0, message.find('\n'));  // LibTorch's errors carry a backtrace after it
        results.update_stage(stage.id, "failed", (stage_dir / "model").string(), failed);
      }
      throw;
    }
  }
  // The job ends together: rank 0 hosts the store the others' process group talks to.
  if (options.parallel.distributed()) options.parallel.group->barrier();
  return outcomes;
}

}  // namespace hybridize::search
