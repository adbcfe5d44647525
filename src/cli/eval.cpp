// `hybridize eval`: benchmark accuracy (pass@1 with a bootstrap interval) of a
// model, or of a plan's teacher and distilled stages, on task files the user
// brings; every judged generation is kept in the results store, so a stopped
// evaluation resumes with what is missing.
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/layer_list.h"
#include "cli/option_checks.h"
#include "core/error.h"
#include "data/eval_tasks.h"
#include "infer/evaluation.h"
#include "model/frozen_teacher.h"
#include "search/provenance.h"
#include "store/results_store.h"

namespace hybridize::cli {

namespace {

struct EvalOptions {
  std::string model;
  std::string tokenizer;  // directory with tokenizer.json and tokenizer_config.json; default the model's
  std::string database;
  int64_t plan = 0;
  std::string stages;
  bool skip_teacher = false;
  std::vector<std::string> tasks;
  infer::EvalSettings settings;
  std::string device;
  std::string dtype = "bf16";
  bool json = false;
};

// One model to evaluate: the --model, or a plan's teacher and stages.
struct Subject {
  std::string label;  // "teacher", "stage 2"
  std::filesystem::path directory;
  int64_t mamba_layers = 0;  // read off the loaded model
  std::optional<int64_t> stage_id;
};

std::vector<Subject> subjects_of(const EvalOptions& options, store::ResultsStore& results) {
  if (!options.model.empty()) {
    if (options.plan > 0) fail("--model and --plan: evaluate one model, or a plan's teacher and stages, not both");
    return {{"model", options.model, 0, std::nullopt}};
  }
  if (options.plan <= 0) fail("give --model DIR, or --plan ID for a stored plan's teacher and stages");
  const auto plan = results.find_plan(options.plan);
  const auto run = results.find_run_by_id(plan.run_id);
  std::vector<Subject> subjects;
  if (!options.skip_teacher) subjects.push_back({"teacher", run->model.path, 0, std::nullopt});
  // The plan's stage records say where its models are; the mamba count is read when each loads.
  const auto wanted = options.stages.empty() ? std::vector<int64_t>{} : parse_layer_list(options.stages, "--stages");
  for (const auto& stage : plan.stages) {
    const bool asked = std::find(wanted.begin(), wanted.end(), stage.position) != wanted.end();
    if (!wanted.empty() && !asked) continue;
    if (stage.status != "done") {
      if (asked)
        fail("plan ", options.plan, " stage ", stage.position, " is ", stage.status,
             "; distil it first (hybridize distill)");
      continue;
    }
    subjects.push_back({"stage " + std::to_string(stage.position), stage.checkpoint, 0, stage.id});
  }
  if (subjects.empty()) fail("plan ", options.plan, " has no distilled stage to evaluate yet");
  return subjects;
}

struct Row {
  Subject subject;
  infer::EvalOutcome outcome;
};

nlohmann::json to_json(const Row& row) {
  const auto& s = row.outcome.summary;
  const auto& e = row.outcome.evaluation;
  return {{"model", row.subject.label},
          {"path", e.model.path},
          {"model_hash", e.model.content_hash},
          {"mamba_layers", row.subject.mamba_layers},
          {"task", e.task.name},
          {"task_hash", e.task.content_hash},
          {"problems", s.problems},
          {"generations", s.generations},
          {"pass_at_1", s.pass_at_1.value},
          {"ci_low", s.pass_at_1.ci_low.value_or(s.pass_at_1.value)},
          {"ci_high", s.pass_at_1.ci_high.value_or(s.pass_at_1.value)},
          {"correct", s.correct},
          {"wrong", s.wrong},
          {"no_answer", s.no_answer},
          {"truncated", s.truncated},
          {"mean_tokens", s.mean_tokens},
          {"generated_now", row.outcome.generated},
          {"evaluation_id", e.id},
          {"settings", e.settings}};
}

void print_table(const std::vector<Row>& rows) {
  std::printf("%-10s %5s %-16s %8s %11s %8s %15s %7s %6s %9s %9s %7s\n", "model", "mamba", "task", "problems",
              "generations", "pass@1", "95% CI", "correct", "wrong", "no answer", "truncated", "tokens");
  for (const auto& row : rows) {
    const auto& s = row.outcome.summary;
    char interval[32];
    std::snprintf(interval, sizeof interval, "[%.1f, %.1f]", 100 * s.pass_at_1.ci_low.value_or(s.pass_at_1.value),
                  100 * s.pass_at_1.ci_high.value_or(s.pass_at_1.value));
    std::printf("%-10s %5lld %-16s %8lld %11lld %7.1f%% %15s %7lld %6lld %9lld %9lld %7.0f\n",
                row.subject.label.c_str(), (long long)row.subject.mamba_layers,
                row.outcome.evaluation.task.name.c_str(), (long long)s.problems, (long long)s.generations,
                100 * s.pass_at_1.value, interval, (long long)s.correct, (long long)s.wrong, (long long)s.no_answer,
                (long long)s.truncated, s.mean_tokens);
  }
  std::printf(
      "\npass@1: per problem the share of its generations judged correct, averaged over problems (95%% bootstrap\n"
      "interval over problems); truncated: generations that reached --max-new-tokens (a cut-off answer is no "
      "answer)\n");
}

void run_eval(const EvalOptions& options) {
  options.settings.validate();
  // Every task file is read and checked before a model is loaded.
  std::vector<data::EvalTask> tasks;
  for (const auto& path : options.tasks) tasks.push_back(data::read_eval_task(path));
  store::ResultsStore results(options.database);
  const auto subjects = subjects_of(options, results);
  // Stages are saved without a tokenizer: their prompts are the teacher's.
  const std::filesystem::path tokenizer_dir =
      !options.tokenizer.empty() ? std::filesystem::path(options.tokenizer) : subjects.front().directory;
  std::vector<Row> rows;
  for (const auto& subject : subjects) {
    auto frozen = model::load_frozen_teacher(subject.directory, options.device, options.dtype);
    const auto record = search::describe_model(subject.directory, *frozen.model);
    Subject loaded = subject;
    loaded.mamba_layers = frozen.model->layout.count(model::MixerKind::Mamba);
    for (const auto& task : tasks) {
      auto outcome =
          infer::evaluate(results, *frozen.model, record, tokenizer_dir, task, options.settings, subject.stage_id);
      rows.push_back({loaded, std::move(outcome)});
    }
  }
  if (options.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& row : rows) out.push_back(to_json(row));
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    print_table(rows);
  }
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto options = std::make_shared<EvalOptions>();
  auto& settings = options->settings;
  auto* command = app.add_subcommand(
      "eval", "Benchmark accuracy (pass@1) of a model, or of a plan's teacher and stages, on JSONL task files");
  command->add_option("--model", options->model, "Checkpoint directory to evaluate");
  command->add_option("--db", options->database, "Results store: evaluations are kept and resumed there")->required();
  command->add_option("--plan", options->plan, "Evaluate this stored plan's teacher and distilled stages")
      ->check(at_least(1));
  command->add_option("--stages", options->stages,
                      "With --plan: only these stage positions (default: every distilled one)");
  command->add_flag("--no-teacher", options->skip_teacher, "With --plan: leave the teacher out");
  command
      ->add_option(
          "--tasks", options->tasks,
          "Task files, JSON Lines: {\"question\", \"answer\", \"kind\": numeric|boxed|choice, optional \"id\", "
          "\"system\", \"choices\"} (README: Evaluation)")
      ->required()
      ->delimiter(',');
  command->add_option(
      "--tokenizer", options->tokenizer,
      "Directory with tokenizer.json and tokenizer_config.json (default: --model's, or the plan's teacher's)");
  command
      ->add_option("--chat-template", settings.chat_template,
                   "auto (from tokenizer_config.json), chatml, qwen2, llama3 or mistral")
      ->capture_default_str();
  command->add_option("--samples", settings.samples, "Generations a problem (more than 1 needs --temperature)")
      ->check(at_least(1))
      ->capture_default_str();
  command->add_option("--temperature", settings.temperature, "0: greedy")
      ->check(non_negative_real())
      ->capture_default_str();
  command->add_option("--top-p", settings.top_p, "Nucleus sampling")->check(fraction())->capture_default_str();
  command->add_option("--seed", settings.seed, "Seed of the draws (each generation has its own stream)")
      ->capture_default_str();
  command
      ->add_option("--max-new-tokens", settings.max_new_tokens,
                   "Token budget a generation; reaching it counts as truncated")
      ->check(at_least(1))
      ->capture_default_str();
  command
      ->add_option("--max-batch", settings.max_batch,
                   "Generations decoding at once (0: on a GPU the most --memory-fraction holds, on the CPU 64)")
      ->check(at_least(0))
      ->capture_default_str();
  command->add_option("--memory-fraction", settings.memory_fraction, "Share of the card's memory for --max-batch 0")
      ->check(fraction())
      ->capture_default_str();
  command->add_option("--prefill-tokens", settings.prefill_tokens, "Prompt tokens one prefill forward takes at most")
      ->check(at_least(1))
      ->capture_default_str();
  command->add_option("--dtype", options->dtype, "Weights and activations: fp32, bf16 or fp16")->capture_default_str();
  command->add_option("--device", options->device, "cpu or cuda (default: cuda when available)");
  command->add_flag("--json", options->json, "Print JSON instead of a table");
  command->callback([options] { run_eval(*options); });
}

}  // namespace hybridize::cli
