// `hybridize distill`: runs a stored plan's stages; `hybridize export`: copies
// a distilled stage's checkpoint out.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <tuple>

#include "cli/commands.h"
#include "cli/job.h"
#include "cli/layer_list.h"
#include "cli/option_checks.h"
#include "cli/task_options.h"
#include "core/error.h"
#include "data/eval_tasks.h"
#include "model/apriel_tensors.h"
#include "search/plan_executor.h"
#include "store/results_store.h"

namespace hybridize::cli {

namespace {

struct DistillCommandOptions {
  search::ExecuteOptions execute;
  std::string stages;
  std::string divergence = "reverse";
  std::string loss = "kl";
  std::string trainable = "mixers";
  std::string autocast = "auto";
  int64_t stop_after = 0;
  bool shard_optimizer = false;
  bool json = false;
  std::vector<std::string> benchmarks;  // task files
};

void run_distill(DistillCommandOptions& options) {
  auto& execute = options.execute;
  if (!options.stages.empty()) execute.stages = parse_layer_list(options.stages, "--stages");
  execute.settings.divergence = train::parse_divergence(options.divergence, "--divergence");
  execute.settings.loss = train::parse_stage_loss(options.loss);
  execute.settings.trainable = train::parse_trainable(options.trainable);
  execute.settings.autocast = train::parse_autocast(options.autocast);
  execute.settings.validate();  // before the teacher loads
  for (const auto& path : options.benchmarks) execute.eval_tasks.push_back(data::read_eval_task(path));
  execute.eval_settings.validate();
  execute.train_data.split = "train";
  execute.eval_data.split = "validation";
  execute.eval_data.source = execute.train_data.source;
  execute.eval_data.task = execute.train_data.task;
  execute.eval_data.seq_len = execute.train_data.seq_len;
  execute.eval_data.raw_dtype = execute.train_data.raw_dtype;
  execute.eval_data.ignore_loss_spans = execute.train_data.ignore_loss_spans;
  execute.eval_data.offset = execute.train_data.source == "synthetic" ? 0 : execute.train_data.samples;
  if (options.stop_after > 0) execute.stop_after = options.stop_after;
  const auto job = join_job(execute.device);
  execute.device = job.device;
  execute.parallel = {job.group, options.shard_optimizer};
  if (!job.group->is_leader()) execute.quiet = true;
  const auto outcomes = search::execute_plan(execute);
  if (!execute.parallel.group->is_leader()) return;  // rank 0 prints the results
  if (options.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& outcome : outcomes)
      out.push_back({{"stage", outcome.position},
                     {"layout", outcome.layout},
                     {"status", outcome.status},
                     {"metrics", outcome.metrics}});
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  std::printf("stage  layout                                              kl (teacher||student)     answer acc\n");
  for (const auto& outcome : outcomes) {
    if (outcome.status == "stopped") {
      std::printf("%5lld  stopped after step %lld (run the same command without --stop-after to resume)\n",
                  (long long)outcome.position, (long long)options.stop_after);
      continue;
    }
    const auto& eval = outcome.metrics.value("eval", nlohmann::json::object());
    const double kl = eval.contains("kl") ? eval["kl"].value("mean", 0.0) : 0.0;
    std::printf("%5lld  %-50s  %-24.4g  %s\n", (long long)outcome.position, outcome.layout.c_str(), kl,
                eval.contains("answer_accuracy") ? std::to_string(eval["answer_accuracy"].get<double>()).c_str() : "-");
  }
}

void run_export(const std::string& database, int64_t plan_id, int64_t position, const std::string& out,
                const std::string& apriel_layout) {
  const auto layout = model::parse_apriel_layout(apriel_layout, "--apriel-layout");
  store::ResultsStore results(database);
  const auto plan = results.find_plan(plan_id);
  for (const auto& stage : plan.stages) {
    if (stage.position != position) continue;
    if (stage.status != "done")
      fail("plan ", plan_id, " stage ", position, " is ", stage.status, "; run `hybridize distill --db ", database,
           " --plan ", plan_id, " --stages ", position, " --out DIR` first");
    if (std::filesystem::exists(out)) fail(out, ": already exists; export writes a new directory");
    model::rewrite_apriel_checkpoint(stage.checkpoint, out, layout);
    std::printf("%s\n", out.c_str());
    return;
  }
  fail("plan ", plan_id, " has no stage ", position);
}

}  // namespace

void add_distill_command(CLI::App& app) {
  auto options = std::make_shared<DistillCommandOptions>();
  auto& execute = options->execute;
  auto* command = app.add_subcommand("distill", "Run a plan's stages: staged reverse-KL distillation from the teacher");
  command->add_option("--db", execute.database, "Results store holding the plan")->required();
  command->add_option("--plan", execute.plan_id, "Plan id (`hybridize plan` prints it)")->required();
  command->add_option("--out", execute.out_dir, "Directory for the stages' checkpoints and models")->required();
  command->add_option("--stages", options->stages, "Stage positions to run (their parents run first); default all");
  command->add_option("--model", execute.model_dir, "Teacher directory, when it moved since it was scored");
  command->add_option("--device", execute.device, "cpu, cuda or cuda:N")->capture_default_str();
  command->add_option("--dtype", execute.dtype, "Teacher precision (students train in fp32)")->capture_default_str();
  command->add_option("--data", execute.train_data.source, "'synthetic' or a token corpus")->capture_default_str();
  command->add_option("--train-samples", execute.train_data.samples, "Training samples")
      ->check(at_least(1))
      ->capture_default_str();
  command->add_option("--eval-samples", execute.eval_data.samples, "Held-out samples for each stage's evaluation")
      ->check(at_least(1))
      ->capture_default_str();
  command->add_option("--seq-len", execute.train_data.seq_len, "Tokens per sample of a corpus")
      ->check(at_least(2))
      ->capture_default_str();
  command->add_flag(
      "--ignore-loss-spans", execute.train_data.ignore_loss_spans,
      "Train and evaluate on every token of a corpus that records loss spans (default: the spans' tokens alone)");
  add_task_options(command, execute.train_data.task);
  auto& settings = execute.settings;
  command->add_option("--steps", settings.steps, "Optimizer steps per stage")
      ->check(at_least(1))
      ->capture_default_str();
  command->add_option("--batch", settings.batch, "Samples per micro-batch")->check(at_least(1))->capture_default_str();
  command->add_option("--accumulation", settings.accumulation, "Micro-batches per step")
      ->check(at_least(1))
      ->capture_default_str();
  command->add_option("--lr", settings.learning_rate, "Peak learning rate")
      ->check(positive_real())
      ->capture_default_str();
  command->add_option("--min-lr", settings.min_learning_rate, "Learning rate at the end of the cosine decay")
      ->check(non_negative_real())
      ->capture_default_str();
  command->add_option("--warmup", settings.warmup_steps, "Warm-up steps")->check(at_least(0))->capture_default_str();
  command->add_option("--divergence", options->divergence, "reverse (KL(student||teacher), the paper's) or forward")
      ->capture_default_str();
  command
      ->add_option("--loss", options->loss,
                   "kl (distil from the teacher), ce (next-token cross-entropy on the data's counted targets: "
                   "SFT on reasoning traces) or kl+ce")
      ->capture_default_str();
  command->add_option("--ce-weight", settings.ce_weight, "Weight of the cross-entropy beside the divergence (kl+ce)")
      ->check(positive_real())
      ->capture_default_str();
  command->add_option("--temperature", settings.temperature, "Distillation temperature")
      ->check(positive_real())
      ->capture_default_str();
  command->add_option("--train", options->trainable, "What trains: new-mixers, mixers or all")->capture_default_str();
  command->add_option("--d-state", settings.d_state, "SSM state size of the new Mamba mixers")
      ->check(at_least(1))
      ->capture_default_str();
  command->add_option("--seed", settings.seed, "Seed of the fresh mixer parts and the data order")
      ->capture_default_str();
  command
      ->add_option("--rescore-steps", execute.rescore.steps,
                   "Training steps of each MMR probe that re-ranks a paper-strategy stage on its parent student")
      ->check(at_least(1))
      ->capture_default_str();
  command->add_option("--checkpoint-every", execute.checkpoint_every, "Steps between training checkpoints")
      ->check(at_least(1))
      ->capture_default_str();
  command
      ->add_option("--autocast", options->autocast,
                   "bf16 autocast of the students' forward passes, fp32 master weights: auto (on for cuda with "
                   "--dtype bf16), on or off")
      ->capture_default_str();
  command->add_flag("--activation-checkpointing", execute.checkpoint_activations,
                    "Recompute each layer's activations in the backward pass: less memory, about a third more compute");
  command
      ->add_option("--stop-after", options->stop_after,
                   "End the first unfinished stage after this step, checkpointed (run again to resume)")
      ->check(at_least(0));
  command->add_flag("--shard-optimizer", options->shard_optimizer,
                    "Under torchrun/Slurm: each rank keeps the AdamW moments of its share of the parameters (ZeRO-1)");
  command
      ->add_option("--benchmarks", options->benchmarks,
                   "Task files (as `eval --tasks`) the teacher and each stage are evaluated on once distilled")
      ->delimiter(',');
  command->add_option("--benchmark-samples", execute.eval_settings.samples, "Generations a benchmark problem")
      ->check(at_least(1))
      ->capture_default_str();
  command->add_option("--benchmark-temperature", execute.eval_settings.temperature, "0: greedy")
      ->check(non_negative_real())
      ->capture_default_str();
  command->add_option("--benchmark-max-new-tokens", execute.eval_settings.max_new_tokens, "Token budget a generation")
      ->check(at_least(1))
      ->capture_default_str();
  command
      ->add_option("--gate-max-drop", execute.gate.max_drop_points,
                   "Quality gate: stop the plan's later stages when a stage's pass@1 on a benchmark falls more "
                   "than this many points below the teacher's (0: off)")
      ->check(non_negative_real())
      ->capture_default_str();
  command->add_flag(
      "--gate-below-parent", execute.gate.stop_below_parent,
      "Quality gate: stop the plan's later stages when a stage's pass@1 falls below its parent's beyond noise");
  command->add_flag("--json", options->json, "Print the stages' results as JSON");
  command->add_flag("--quiet", execute.quiet, "No progress lines");
  command->callback([options] { run_distill(*options); });

  auto export_options = std::make_shared<std::tuple<std::string, int64_t, int64_t, std::string, std::string>>();
  std::get<4>(*export_options) = "split";
  auto* exporter = app.add_subcommand("export", "Copy a distilled stage's Apriel-H checkpoint to a new directory");
  exporter->add_option("--db", std::get<0>(*export_options), "Results store holding the plan")->required();
  exporter->add_option("--plan", std::get<1>(*export_options), "Plan id")->required();
  exporter->add_option("--stage", std::get<2>(*export_options), "Stage position")->check(at_least(0))->required();
  exporter->add_option("--out", std::get<3>(*export_options), "New directory for the checkpoint")->required();
  exporter
      ->add_option("--apriel-layout", std::get<4>(*export_options),
                   "How m2 mixers store their input projection: split (in_proj and dt_in_proj, Fast-LLM's current "
                   "format) or fused (in_proj with the dt rows, the earlier releases)")
      ->capture_default_str();
  exporter->callback([export_options] {
    const auto& [database, plan, stage, out, layout] = *export_options;
    run_export(database, plan, stage, out, layout);
  });
}

}  // namespace hybridize::cli
