// `hybridize score loo|mmr|proxy`: scores every layer of a teacher into the results store.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/job.h"
#include "cli/layer_list.h"
#include "cli/option_checks.h"
#include "cli/task_options.h"
#include "core/error.h"
#include "search/score_driver.h"

namespace hybridize::cli {

namespace {

struct ScoreCommandOptions {
  search::ScoreOptions score;
  std::string scorer;
  std::string layers;
  std::string ablate = "mixer";
  bool no_prefix_reuse = false;
  std::string divergence = "reverse";
  bool json = false;
};

std::string interval(const store::MetricSummary& metric) {
  char text[96];
  if (metric.ci_low && metric.ci_high)
    std::snprintf(text, sizeof text, "%.4g [%.4g, %.4g]", metric.value, *metric.ci_low, *metric.ci_high);
  else
    std::snprintf(text, sizeof text, "%.4g", metric.value);
  return text;
}

nlohmann::json metric_json(const store::MetricSummary& metric) {
  nlohmann::json out = {{"mean", metric.value}, {"samples", metric.samples}};
  if (metric.ci_low) out["ci_low"] = *metric.ci_low;
  if (metric.ci_high) out["ci_high"] = *metric.ci_high;
  return out;
}

void print_summary(const search::ScoreSummary& summary, bool json) {
  const auto order = search::ranked(summary);
  if (json) {
    nlohmann::json out = {{"run", summary.run.name},
                          {"scorer", summary.kind},
                          {"variant", summary.variant},
                          {"model", summary.run.model.path},
                          {"model_hash", summary.run.model.content_hash},
                          {"data", summary.run.dataset.spec},
                          {"counted", summary.counted},
                          {"primary_metric", summary.primary_metric},
                          {"layer_forwards", summary.forwards.spent},
                          {"naive_layer_forwards", summary.forwards.naive}};
    for (const auto& [name, metric] : summary.teacher) out["teacher"][name] = metric_json(metric);
    out["ranking"] = nlohmann::json::array();
    for (const auto& layer : order) {
      nlohmann::json row = {{"layer", layer.layer}, {"seconds", layer.seconds}};
      for (const auto& [name, metric] : layer.metrics) row["metrics"][name] = metric_json(metric);
      out["ranking"].push_back(row);
    }
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  std::printf("run %s: %s%s scores of %s on %s\n", summary.run.name.c_str(), summary.kind.c_str(),
              summary.variant.empty() ? "" : ("/" + summary.variant).c_str(), summary.run.model.path.c_str(),
              summary.run.dataset.spec.c_str());
  std::printf("counted: %s\n", summary.counted.c_str());
  for (const auto& [name, metric] : summary.teacher)
    std::printf("teacher %s %s\n", name.c_str(), interval(metric).c_str());
  if (summary.forwards.naive > 0)
    std::printf("layer forwards %lld of a naive %lld (%.1f%%)\n", (long long)summary.forwards.spent,
                (long long)summary.forwards.naive,
                100.0 * double(summary.forwards.spent) / double(summary.forwards.naive));
  if (order.empty()) {
    std::printf("no layer is scored yet%s\n", summary.layers.empty() ? "" : " (others are still running)");
    return;
  }
  std::printf("\nrank  layer  ");
  for (const auto& [name, metric] : order.front().metrics) std::printf("%-34s", name.c_str());
  std::printf("seconds\n");
  int rank = 1;
  for (const auto& layer : order) {
    std::printf("%4d  %5lld  ", rank++, (long long)layer.layer);
    for (const auto& [name, metric] : layer.metrics) std::printf("%-34s", interval(metric).c_str());
    std::printf("%.1f\n", layer.seconds);
  }
  const std::size_t pending = summary.layers.size() - order.size();
  if (pending > 0)
    std::printf("%zu layer(s) not finished: another worker holds them, or run again to resume\n", pending);
  std::printf("ranked by %s, most replaceable first (95%% bootstrap intervals)\n", summary.primary_metric.c_str());
}

}  // namespace

void add_score_command(CLI::App& app) {
  auto options = std::make_shared<ScoreCommandOptions>();
  auto* command = app.add_subcommand(
      "score", "Score every layer of a teacher (leave-one-out ablations or proxies) into a results store");
  command
      ->add_option("SCORER", options->scorer,
                   "loo (leave-one-out ablations), mmr (short MIL-Mamba replacement probes) or proxy (block influence "
                   "and friends)")
      ->required();
  auto& score = options->score;
  command->add_option("--model", score.model_dir, "Teacher checkpoint directory (HF format)")->required();
  command->add_option("--db", score.database, "Results store (SQLite; created when missing)")->required();
  command
      ->add_option("--data", score.data.source,
                   "'synthetic' (the built-in task) or a token corpus (.idx/.bin, .npy, raw)")
      ->capture_default_str();
  command->add_option("--split", score.data.split, "Synthetic task split: train, validation or test")
      ->capture_default_str();
  command->add_option("--samples", score.data.samples, "Held-out samples to measure on")
      ->check(at_least(1))
      ->capture_default_str();
  command->add_option("--seq-len", score.data.seq_len, "Tokens per sample of a corpus")
      ->check(at_least(2))
      ->capture_default_str();
  command->add_option("--raw-dtype", score.data.raw_dtype, "Width of a raw token file: uint16 or uint32");
  command->add_flag("--ignore-loss-spans", score.data.ignore_loss_spans,
                    "Count every token of a corpus that records loss spans (default: the spans' tokens alone)");
  add_task_options(command, score.data.task);
  command->add_option("--seed", score.data.seed, "Seed of the data order and the bootstrap")->capture_default_str();
  command->add_option("--layers", options->layers, "Layers to score, like 0,3,7-9 (default: all)");
  command->add_option("--batch-size", score.batch_size, "Samples per forward pass")
      ->check(at_least(1))
      ->capture_default_str();
  command->add_option("--device", score.device, "cpu, cuda or cuda:N")->capture_default_str();
  command->add_option("--dtype", score.dtype, "Model precision: fp32, bf16 or fp16")->capture_default_str();
  command->add_option("--run", score.run_name, "Run name in the store; results of one model and data set per run")
      ->capture_default_str();
  command->add_option("--ablate", options->ablate, "loo: remove the layer's 'mixer' (attention) or its whole 'block'")
      ->capture_default_str();
  command->add_flag("--no-prefix-reuse", options->no_prefix_reuse,
                    "loo: recompute every ablation from the embeddings (only to measure what reuse saves)");
  auto& mmr = score.mmr;
  command->add_option("--mmr-steps", mmr.steps, "mmr: training steps of each probe")
      ->check(at_least(1))
      ->capture_default_str();
  command->add_option("--mmr-batch-size", mmr.batch_size, "mmr: training samples per step")
      ->check(at_least(1))
      ->capture_default_str();
  command->add_option("--mmr-lr", mmr.learning_rate, "mmr: peak learning rate (linear warm-up, cosine to 10%)")
      ->check(positive_real())
      ->capture_default_str();
  command->add_option("--mmr-warmup", mmr.warmup_steps, "mmr: warm-up steps")
      ->check(at_least(0))
      ->capture_default_str();
  command
      ->add_option("--mmr-train-samples", score.mmr_train_samples,
                   "mmr: training samples (synthetic train split, or the corpus samples after the held-out ones)")
      ->check(at_least(1))
      ->capture_default_str();
  command->add_option("--mmr-divergence", options->divergence, "mmr: reverse (KL(student||teacher)) or forward")
      ->capture_default_str();
  command->add_option("--d-state", mmr.d_state, "mmr: SSM state size of the probe's Mamba mixer")
      ->check(at_least(1))
      ->capture_default_str();
  command->add_option("--bootstrap", score.bootstrap_resamples, "Bootstrap resamples for the confidence intervals")
      ->check(at_least(1))
      ->capture_default_str();
  command
      ->add_option("--heartbeat-timeout", score.heartbeat_timeout_s,
                   "Seconds after which a silent worker's probes are taken over")
      ->check(positive_real())
      ->capture_default_str();
  command->add_flag("--json", options->json, "Print the ranking as JSON");
  command->add_flag("--quiet", score.quiet, "No progress lines");
  command->callback([options] {
    auto& score = options->score;
    score.scorer = search::parse_scorer(options->scorer);
    if (!options->layers.empty()) score.layers = parse_layer_list(options->layers, "--layers");
    score.loo.ablation = search::parse_ablation(options->ablate);
    score.loo.prefix_reuse = !options->no_prefix_reuse;
    score.mmr.divergence = train::parse_divergence(options->divergence, "--mmr-divergence");
    const auto job = join_job(score.device);  // under torchrun/Slurm the ranks share the layers
    score.device = job.device;
    score.group = job.group;
    if (!job.group->is_leader()) score.quiet = true;
    const auto summary = search::run_scoring(score);
    if (job.group->is_leader()) print_summary(summary, options->json);
  });
}

}  // namespace hybridize::cli
