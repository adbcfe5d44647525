// `hybridize run CONFIG`: the whole pipeline from one config file: score ->
// plan -> distil -> bench -> report. Every step stores what it finishes, so a
// second run (or one after an interruption) continues where the last stopped.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "cli/commands.h"
#include "cli/job.h"
#include "cli/run_config.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/file_tree.h"
#include "core/format.h"
#include "core/log.h"
#include "core/version.h"
#include "data/eval_tasks.h"
#include "infer/bench.h"
#include "io/hf_config.h"
#include "model/device.h"
#include "model/frozen_teacher.h"
#include "model/mil.h"
#include "model/weights.h"
#include "reports/html_report.h"
#include "reports/report_model.h"
#include "search/plan_executor.h"
#include "search/planner.h"
#include "search/provenance.h"
#include "search/score_driver.h"
#include "search/stage_dag.h"
#include "store/results_store.h"

namespace hybridize::cli {

namespace {

data::SequenceSpec sequences(const RunConfig& config, int64_t samples, const std::string& split, int64_t offset) {
  data::SequenceSpec spec;
  spec.source = config.data;
  spec.split = split;
  spec.samples = samples;
  spec.offset = config.data == "synthetic" ? 0 : offset;
  spec.seq_len = config.seq_len;
  spec.ignore_loss_spans = config.ignore_loss_spans;
  spec.seed = config.seed;
  return spec;
}

// What needs the teacher's config, checked before any work: scoring a large
// teacher takes hours, and a plan or stage that can never run must not wait for them.
void check_before_work(const RunConfig& config) {
  const std::string file = config.file.string();
  const auto teacher = io::read_transformer_config(config.model);
  with_context(file + ": key 'model.device': ", [&] { model::parse_device(config.device); });
  with_context(file + ": key 'model.dtype': ", [&] { model::parse_precision(config.dtype); });
  with_context(file + ": [plan]: ", [&] {
    search::PlanRequest request;
    request.targets = config.targets;
    request.keep = config.keep;
    search::validate_plan_request(request, teacher.num_layers);
  });
  with_context(file + ": [distill]: ", [&] {
    io::require_hybrid_format(teacher);
    model::mil_ssm_config(teacher, train::DistillationSettings().d_state);
  });
  for (const auto& path : config.eval_tasks)
    with_context(file + ": key 'eval.tasks': ", [&] { data::read_eval_task(path); });
}

void score(const RunConfig& config) {
  for (const auto& scorer : config.scorers) {
    log_info("run: score ", scorer);
    search::ScoreOptions options;
    options.scorer = search::parse_scorer(scorer);
    options.model_dir = config.model;
    options.data = sequences(config, config.eval_samples, "validation", 0);
    options.database = config.db;
    options.run_name = config.name;
    options.batch_size = config.score_batch;
    options.device = config.device;
    options.dtype = config.dtype;
    options.mmr.steps = config.mmr_steps;
    options.mmr.learning_rate = config.mmr_lr;
    options.mmr.warmup_steps = config.mmr_warmup;
    options.mmr_train_samples = config.mmr_train_samples;
    const auto summary = search::run_scoring(options);
    log_info("run: ", scorer, " scored ", summary.layers.size(), " layers (", summary.layers_computed, " now)");
  }
}

// The run's plans, made once: a later run reuses the stored ones.
std::vector<store::PlanRecord> plans(const RunConfig& config) {
  store::ResultsStore results(config.db);
  const auto run = *results.find_run(config.name);
  auto stored = results.plans(run.id);
  if (!stored.empty()) return stored;
  const auto teacher = io::read_transformer_config(config.model);
  search::ScoreTables scores;
  scores.loo = results.layer_samples(run.id, "loo", "mixer", "kl");
  scores.mmr = results.layer_samples(run.id, "mmr", "", "kl");
  scores.proxy = results.layer_samples(run.id, "proxy", "", "block_influence");
  search::PlanRequest request;
  request.targets = config.targets;
  request.keep = config.keep;
  request.max_per_stage = config.max_per_stage;
  // In the unit a stage's training counts (predicted tokens, e.g. a task's completion), from up to 256 samples.
  const auto probe = train::load_sequences(
      sequences(config, std::min<int64_t>(config.train_samples, 256), "train", config.eval_samples),
      teacher.vocab_size);
  const double tokens_per_sample = double(probe.counted_tokens()) / double(probe.size());
  request.stage_tokens = std::llround(
      double(config.distill_steps * config.distill_batch * config.distill_accumulation) * tokens_per_sample);
  request.seed = config.seed;
  auto strategies = config.strategies;
  if (config.compare_forward_kl && !strategies.empty())
    strategies.push_back(strategies.front());  // distilled with forward KL
  for (const auto& name : strategies) {
    request.strategy = search::parse_strategy(name);
    auto plan = search::make_plan(request, teacher, scores, {}, {});
    plan.run_id = run.id;
    plan.id = results.save_plan(plan);
    stored.push_back(std::move(plan));
  }
  return stored;
}

void distill(const RunConfig& config, const std::vector<store::PlanRecord>& plans) {
  std::vector<data::EvalTask> tasks;
  for (const auto& path : config.eval_tasks) tasks.push_back(data::read_eval_task(path));
  for (std::size_t i = 0; i < plans.size(); ++i) {
    const bool forward = config.compare_forward_kl && i + 1 == plans.size() && plans.size() > 1;
    log_info("run: distil plan ", plans[i].id, " (", plans[i].strategy, forward ? ", forward KL" : "", ")");
    search::ExecuteOptions options;
    options.database = config.db;
    options.plan_id = plans[i].id;
    options.out_dir = config.out / "stages";
    options.device = config.device;
    options.dtype = config.dtype;
    options.train_data = sequences(config, config.train_samples, "train", config.eval_samples);
    options.eval_data = sequences(config, config.eval_samples, "validation", 0);
    options.settings.steps = config.distill_steps;
    options.settings.batch = config.distill_batch;
    options.settings.accumulation = config.distill_accumulation;
    options.checkpoint_activations = config.activation_checkpointing;
    options.settings.learning_rate = config.distill_lr;
    options.settings.min_learning_rate = config.distill_lr / 10;
    options.settings.warmup_steps = config.distill_warmup;
    options.settings.trainable = train::parse_trainable(config.train);
    options.settings.divergence = forward ? train::Divergence::ForwardKL : train::Divergence::ReverseKL;
    options.settings.loss = train::parse_stage_loss(config.loss);
    options.settings.ce_weight = config.ce_weight;
    options.settings.seed = config.seed;
    options.rescore.steps = config.mmr_steps;  // the paper strategy's re-ranking probes, as scored
    options.rescore.learning_rate = config.mmr_lr;
    options.rescore.warmup_steps = config.mmr_warmup;
    options.eval_tasks = tasks;
    options.eval_settings.samples = config.eval_task_samples;
    options.eval_settings.temperature = config.eval_temperature;
    options.eval_settings.max_new_tokens = config.eval_max_new_tokens;
    options.eval_settings.seed = config.seed;
    options.gate = {config.gate_max_drop, config.gate_below_parent};
    search::execute_plan(options);
  }
}

// Generation throughput of the teacher and every plan target's layout, once per store.
void bench(const RunConfig& config, const std::vector<store::PlanRecord>& plans) {
  store::ResultsStore results(config.db);
  const auto run = *results.find_run(config.name);
  if (!results.benchmarks(run.model.content_hash).empty()) return;
  log_info("run: bench");
  auto teacher = model::load_frozen_teacher(config.model, config.device, config.dtype).model;
  std::vector<model::Layout> layouts;
  std::vector<std::string> seen;
  for (const auto& plan : plans)
    for (const auto& target : plan.targets)
      if (std::find(seen.begin(), seen.end(), target.layout) == seen.end()) {
        seen.push_back(target.layout);
        layouts.push_back(model::Layout::parse(target.layout, teacher->config.num_layers, "plan target layout"));
      }
  infer::BenchSettings settings;
  settings.prompt_length = config.prompt_len;
  settings.generated_length = config.gen_len;
  settings.batch = config.bench_batch;
  settings.seed = config.seed;
  const auto measured = infer::run_bench(*teacher, layouts, model::mil_ssm_config(teacher->config), settings);
  const auto model_record = search::describe_model(config.model, *teacher);
  for (const auto& r : measured)
    results.save_benchmark({0, model_record, r.layout, config.device, config.dtype, r.prompt_length, r.generated_length,
                            r.batch, r.prefill_tokens_per_second, r.decode_tokens_per_second, r.total_tokens_per_second,
                            r.state_bytes_per_sequence, r.speedup, ""});
}

void report(const RunConfig& config) {
  store::ResultsStore results(config.db);
  const auto run = *results.find_run(config.name);
  const auto html =
      reports::render_html_report(reports::read_report(results, run),
                                  {"hybridize run " + config.name, utc_timestamp(), std::string(code_version())});
  write_file_atomically(config.report, html);
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto file = std::make_shared<std::string>();
  auto* command =
      app.add_subcommand("run", "The whole pipeline from a config file: score, plan, distil, bench, report");
  command->add_option("CONFIG", *file, "Run config (TOML), e.g. configs/demo.toml")->required();
  command->callback([file] {
    refuse_job("run");
    const auto config = read_run_config(*file);
    check_before_work(config);
    make_directories(config.out);
    make_directories(config.db.parent_path());
    score(config);
    const auto made = plans(config);
    distill(config, made);
    bench(config, made);
    {
      store::ResultsStore results(config.db);
      results.set_run_status(results.find_run(config.name)->id, "done");
    }
    report(config);
    std::printf("results in %s\nreport: %s\n", config.db.c_str(), config.report.c_str());
  });
}

}  // namespace hybridize::cli
