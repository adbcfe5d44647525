// `hybridize plan`: replacement plans from the scores in a results store.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/layer_list.h"
#include "cli/option_checks.h"
#include "core/error.h"
#include "core/format.h"
#include "io/hf_config.h"
#include "search/calibration.h"
#include "search/planner.h"
#include "search/stage_dag.h"

namespace hybridize::cli {

namespace {

struct PlanCommandOptions {
  std::string database;
  std::string run = "default";
  std::string model;  // overrides the model path stored with the run
  std::string targets;
  std::string strategies = "paper";
  std::string keep;
  std::string proxy_metric = "block_influence";
  search::PlanRequest request;
  search::Workload workload;
  search::HardwareRates rates;
  double memory_gib = 80;
  // Which of --bandwidth, --flops and --memory-gib were given: they win over stored rates.
  bool bandwidth_given = false, flops_given = false, memory_given = false;
  bool json = false;
};

// The rates to predict with: the newest stored by `hybridize bench` when there
// are some, else the nominal defaults; flags given override either.
search::HardwareRates choose_rates(store::ResultsStore& results, const PlanCommandOptions& options) {
  auto rates = search::stored_rates(results).value_or(options.rates);
  std::string overridden;
  if (options.bandwidth_given) {
    rates.bytes_per_second = options.rates.bytes_per_second;
    overridden += " --bandwidth";
  }
  if (options.flops_given) {
    rates.flops_per_second = options.rates.flops_per_second;
    overridden += " --flops";
  }
  if (options.memory_given || rates.memory_bytes <= 0) {
    rates.memory_bytes = int64_t(options.memory_gib * double(int64_t(1) << 30));
    if (options.memory_given) overridden += " --memory-gib";
  }
  if (!overridden.empty()) rates.name += ", overridden by" + overridden;
  return rates;
}

std::vector<search::Strategy> parse_strategies(const std::string& text) {
  std::vector<search::Strategy> strategies;
  for (const auto& name : parse_names(text)) strategies.push_back(search::parse_strategy(name));
  return strategies;
}

nlohmann::json plan_json(const store::PlanRecord& plan) {
  nlohmann::json out = {{"id", plan.id}, {"strategy", plan.strategy}, {"layer_order", plan.layer_order}};
  for (const auto& stage : plan.stages)
    out["stages"].push_back({{"position", stage.position},
                             {"mamba_layers", stage.mamba_layers},
                             {"new_layers", stage.new_layers},
                             {"layout", stage.layout},
                             {"token_budget", stage.token_budget},
                             {"rescore", stage.rescore}});
  for (const auto& target : plan.targets) {
    nlohmann::json row = {{"mamba_layers", target.mamba_layers},
                          {"layout", target.layout},
                          {"stage", target.stage_position},
                          {"quality_metric", target.quality_metric},
                          {"predicted_tokens_per_s", target.predicted_tokens_per_s},
                          {"predicted_speedup", target.predicted_speedup},
                          {"memory_per_sequence_bytes", target.memory_per_sequence},
                          {"max_batch", target.max_batch}};
    if (target.predicted_quality)
      row["predicted_quality"] = {
          {"mean", target.predicted_quality->value},
          {"ci_low", target.predicted_quality->ci_low.value_or(target.predicted_quality->value)},
          {"ci_high", target.predicted_quality->ci_high.value_or(target.predicted_quality->value)}};
    out["targets"].push_back(row);
  }
  return out;
}

void print_plan(const store::PlanRecord& plan, int64_t layers) {
  std::printf("plan %lld: strategy %s, order %s\n", (long long)plan.id, plan.strategy.c_str(),
              nlohmann::json(plan.layer_order).dump().c_str());
  std::printf("  stage  mamba  new layers                      layout\n");
  for (const auto& stage : plan.stages)
    std::printf("  %5lld  %5lld  %-30s  %s%s\n", (long long)stage.position, (long long)stage.mamba_layers,
                nlohmann::json(stage.new_layers).dump().c_str(), stage.layout.c_str(),
                stage.rescore ? "  (re-rank by MMR first)" : "");
  std::printf("  target  ssm:attn  predicted drop (95%% CI)          speed-up  batch  memory/seq\n");
  for (const auto& target : plan.targets) {
    char quality[64] = "-";
    if (const auto& q = target.predicted_quality)
      std::snprintf(quality, sizeof quality, "%.4g [%.4g, %.4g]", q->value, q->ci_low.value_or(q->value),
                    q->ci_high.value_or(q->value));
    std::printf("  %6lld  %4lld:%-3lld  %-32s  %7.2fx  %5lld  %s\n", (long long)target.mamba_layers,
                (long long)target.mamba_layers, (long long)(layers - target.mamba_layers), quality,
                target.predicted_speedup, (long long)target.max_batch,
                format_bytes(uint64_t(target.memory_per_sequence)).c_str());
  }
  if (!plan.targets.empty()) std::printf("  quality: %s\n", plan.targets.front().quality_metric.c_str());
}

void run_plan(PlanCommandOptions& options) {
  store::ResultsStore results(options.database);
  const auto run = results.find_run(options.run);
  if (!run)
    fail(options.database, ": no run '", options.run, "'; score a model first (`hybridize score loo --db ",
         options.database, " ...`)");
  const std::filesystem::path model_dir = options.model.empty() ? run->model.path : options.model;
  const auto config = io::read_transformer_config(model_dir);
  auto& request = options.request;
  request.targets = parse_layer_list(options.targets, "--targets");
  if (!options.keep.empty()) request.keep = parse_layer_list(options.keep, "--keep");
  const auto rates = choose_rates(results, options);

  search::ScoreTables scores;
  scores.loo = results.layer_samples(run->id, "loo", "mixer", "kl");
  scores.mmr = results.layer_samples(run->id, "mmr", "", "kl");
  scores.proxy = results.layer_samples(run->id, "proxy", "", options.proxy_metric);

  std::vector<store::PlanRecord> plans;
  for (const auto strategy : parse_strategies(options.strategies)) {
    request.strategy = strategy;
    auto plan = search::make_plan(request, config, scores, options.workload, rates);
    plan.run_id = run->id;
    plan.id = results.save_plan(plan);
    plans.push_back(std::move(plan));
  }
  const auto jobs = search::execution_order(plans);
  if (options.json) {
    nlohmann::json out = {{"run", run->name}, {"model", model_dir.string()}, {"hardware", rates.name}};
    for (const auto& plan : plans) out["plans"].push_back(plan_json(plan));
    for (const auto& job : jobs) out["execution_order"].push_back({{"layout", job.layout}, {"from", job.parent}});
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  for (const auto& plan : plans) print_plan(plan, config.num_layers);
  std::printf("\njobs in execution order:\n%s", search::describe(jobs).c_str());
  std::printf("throughput predicted for %s, %lld prompt + %lld generated tokens\n", rates.name.c_str(),
              (long long)options.workload.prompt_tokens, (long long)options.workload.generated_tokens);
}

}  // namespace

void add_plan_command(CLI::App& app) {
  auto options = std::make_shared<PlanCommandOptions>();
  auto* command =
      app.add_subcommand("plan", "Ranked replacement schedules and SSM-to-attention ratio plans from stored scores");
  command->add_option("--db", options->database, "Results store holding the run's scores")->required();
  command->add_option("--run", options->run, "Run whose scores to plan from")->capture_default_str();
  command->add_option("--targets", options->targets, "Numbers of Mamba layers to plan for, like 25,30,40")->required();
  command
      ->add_option("--strategy", options->strategies,
                   "paper, loo, mmr, proxy, uniform or random; several separated by commas")
      ->capture_default_str();
  command->add_option("--keep", options->keep, "Layers that must stay attention, like 0,49");
  command->add_option("--min-attention", options->request.min_attention, "Fewest attention layers a plan may leave")
      ->check(at_least(0))
      ->capture_default_str();
  command
      ->add_option("--max-per-stage", options->request.max_per_stage,
                   "Most layers a stage after the first adds (0: 8% of the layers)")
      ->check(at_least(0))
      ->capture_default_str();
  command->add_option("--stage-tokens", options->request.stage_tokens, "Distillation tokens per stage")
      ->check(at_least(0))
      ->capture_default_str();
  command->add_option("--seed", options->request.seed, "Seed of the random strategy and the bootstrap")
      ->capture_default_str();
  command->add_option("--proxy-metric", options->proxy_metric, "Proxy the proxy strategy orders by")
      ->capture_default_str();
  command->add_option("--d-state", options->request.d_state, "SSM state size of the planned Mamba layers")
      ->check(at_least(1))
      ->capture_default_str();
  command->add_option("--model", options->model, "Model directory, when it moved since it was scored");
  command->add_option("--prompt-len", options->workload.prompt_tokens, "Prompt tokens of the throughput workload")
      ->check(at_least(1))
      ->capture_default_str();
  command->add_option("--gen-len", options->workload.generated_tokens, "Generated tokens of the throughput workload")
      ->check(at_least(1))
      ->capture_default_str();
  auto* memory = command
                     ->add_option("--memory-gib", options->memory_gib,
                                  "GPU memory for weights and caches (default: the measured device's, else 80)")
                     ->check(positive_real());
  auto* bandwidth =
      command
          ->add_option("--bandwidth", options->rates.bytes_per_second,
                       "Memory bandwidth, bytes/s (default: measured by `bench` and stored, else nominal)")
          ->check(positive_real())
          ->capture_default_str();
  auto* flops = command
                    ->add_option("--flops", options->rates.flops_per_second,
                                 "FLOP/s (default: measured by `bench` and stored, else nominal)")
                    ->check(positive_real())
                    ->capture_default_str();
  command->add_flag("--json", options->json, "Print the plans as JSON");
  command->callback([options, memory, bandwidth, flops] {
    options->memory_given = memory->count() > 0;
    options->bandwidth_given = bandwidth->count() > 0;
    options->flops_given = flops->count() > 0;
    run_plan(*options);
  });
}

}  // namespace hybridize::cli
