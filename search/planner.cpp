#include "search/planner.h"

#include <algorithm>
#include <numeric>
#include <random>
#include <set>

#include "core/error.h"
#include "core/spelling.h"
#include "model/mil.h"
#include "store/bootstrap.h"

namespace hybridize::search {

namespace {

double mean(const std::vector<double>& values) {
  return std::accumulate(values.begin(), values.end(), 0.0) / double(std::max<std::size_t>(1, values.size()));
}

// Layers by ascending mean score: the most replaceable first.
std::vector<int64_t> order_by(const LayerSamples& scores) {
  std::vector<int64_t> order;
  for (const auto& [layer, values] : scores) order.push_back(layer);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return mean(scores.at(a)) < mean(scores.at(b)); });
  return order;
}

const LayerSamples& require(const LayerSamples& scores, int64_t layers, const char* what, const char* command) {
  if (int64_t(scores.size()) < layers)
    fail("plan: the run has ", what, " scores for ", scores.size(), " of ", layers, " layers; run `hybridize score ",
         command, " --db ...` first");
  return scores;
}

std::vector<int64_t> candidate_order(const PlanRequest& request, int64_t layers, const ScoreTables& scores) {
  switch (request.strategy) {
    case Strategy::Loo:
      return order_by(require(scores.loo, layers, "LOO", "loo"));
    case Strategy::Mmr:
      return order_by(require(scores.mmr, layers, "MMR", "mmr"));
    case Strategy::Proxy:
      return order_by(require(scores.proxy, layers, "proxy", "proxy"));
    case Strategy::Uniform:
      return spread_order(layers);
    case Strategy::Random: {
      std::vector<int64_t> order(static_cast<std::size_t>(layers));
      std::iota(order.begin(), order.end(), 0);
      std::mt19937_64 random(request.seed);
      for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[random() % i]);  // Fisher-Yates
      return order;
    }
    case Strategy::Paper: {
      // First stage by LOO; the layers after it by MMR (re-ranked on each stage's student when it runs).
      const auto loo = order_by(require(scores.loo, layers, "LOO", "loo"));
      const auto mmr = order_by(require(scores.mmr, layers, "MMR", "mmr"));
      const int64_t first = *std::min_element(request.targets.begin(), request.targets.end());
      std::vector<int64_t> order;
      std::set<int64_t> keep(request.keep.begin(), request.keep.end());
      for (const int64_t layer : loo)
        if (int64_t(order.size()) < first && !keep.count(layer)) order.push_back(layer);
      for (const int64_t layer : mmr)
        if (std::find(order.begin(), order.end(), layer) == order.end()) order.push_back(layer);
      for (const int64_t layer : loo)  // the kept layers, so the order stays a permutation
        if (std::find(order.begin(), order.end(), layer) == order.end()) order.push_back(layer);
      return order;
    }
  }
  return {};
}

// Stage sizes: the first target at once, then steps of at most max_per_stage
// (split evenly) through every further target.
std::vector<int64_t> stage_counts(const std::vector<int64_t>& targets, int64_t max_per_stage) {
  std::vector<int64_t> counts{targets.front()};
  for (std::size_t i = 1; i < targets.size(); ++i) {
    const int64_t from = counts.back(), to = targets[i];
    const int64_t steps = (to - from + max_per_stage - 1) / max_per_stage;
    for (int64_t step = 1; step <= steps; ++step) counts.push_back(from + ((to - from) * step + steps / 2) / steps);
  }
  return counts;
}

std::string layout_text(int64_t layers, const std::vector<int64_t>& mamba) {
  return model::Layout::all_attention(layers).with(model::MixerKind::Mamba, mamba).to_string();
}

}  // namespace

namespace {
constexpr Spelling<Strategy> kStrategies[] = {{Strategy::Paper, "paper"},     {Strategy::Loo, "loo"},
                                              {Strategy::Mmr, "mmr"},         {Strategy::Proxy, "proxy"},
                                              {Strategy::Uniform, "uniform"}, {Strategy::Random, "random"}};
}  // namespace

Strategy parse_strategy(const std::string& name) { return parse_spelling(kStrategies, name, "--strategy"); }

const char* strategy_name(Strategy strategy) { return spelling_of(kStrategies, strategy); }

std::vector<int64_t> spread_order(int64_t layers) {
  std::vector<int64_t> order;
  std::vector<bool> used(static_cast<std::size_t>(layers), false);
  for (int64_t k = 1; int64_t(order.size()) < layers; ++k) {
    double position = 0, base = 0.5;  // van der Corput: bits of k mirrored after the point
    for (int64_t bits = k; bits > 0; bits >>= 1, base /= 2) position += double(bits & 1) * base;
    int64_t layer = int64_t(position * double(layers));
    while (used[std::size_t(layer)]) layer = (layer + 1) % layers;
    used[std::size_t(layer)] = true;
    order.push_back(layer);
  }
  return order;
}

void validate_plan_request(const PlanRequest& request, int64_t layers) {
  if (request.targets.empty()) fail("--targets: give at least one number of Mamba layers");
  const std::set<int64_t> keep(request.keep.begin(), request.keep.end());
  for (const int64_t layer : keep)
    if (layer < 0 || layer >= layers) fail("--keep: layer ", layer, " is outside the model's ", layers, " layers");
  if (request.min_attention < 0) fail("--min-attention must not be negative");
  const int64_t most = layers - std::max<int64_t>(request.min_attention, int64_t(keep.size()));
  for (const int64_t target : request.targets) {
    if (target <= 0) fail("--targets: ", target, " is not a positive number of Mamba layers");
    if (target > most)
      fail("--targets: ", target, " Mamba layers of ", layers, " leave fewer attention layers than --keep (",
           keep.size(), " layers) and --min-attention (", request.min_attention, ") require; at most ", most);
  }
}

store::PlanRecord make_plan(const PlanRequest& request, const io::TransformerConfig& config, const ScoreTables& scores,
                            const Workload& workload, const HardwareRates& rates, int64_t bootstrap_resamples) {
  const int64_t layers = config.num_layers;
  validate_plan_request(request, layers);
  const std::set<int64_t> keep(request.keep.begin(), request.keep.end());
  auto targets = request.targets;
  std::sort(targets.begin(), targets.end());
  targets.erase(std::unique(targets.begin(), targets.end()), targets.end());
  const int64_t max_per_stage =
      request.max_per_stage > 0 ? request.max_per_stage : std::max<int64_t>(1, (layers * 8 + 50) / 100);

  store::PlanRecord plan;
  plan.strategy = strategy_name(request.strategy);
  for (const int64_t layer : candidate_order(request, layers, scores))
    if (!keep.count(layer)) plan.layer_order.push_back(layer);
  plan.config = {
      {"targets", targets},
      {"keep", std::vector<int64_t>(keep.begin(), keep.end())},
      {"min_attention", request.min_attention},
      {"max_per_stage", max_per_stage},
      {"stage_tokens", request.stage_tokens},
      {"seed", request.seed},
      {"d_state", request.d_state},
      {"workload", {{"prompt_tokens", workload.prompt_tokens}, {"generated_tokens", workload.generated_tokens}}},
      {"hardware", rates.name}};

  const auto counts = stage_counts(targets, max_per_stage);
  for (std::size_t i = 0; i < counts.size(); ++i) {
    store::StageRecord stage;
    stage.position = int64_t(i);
    if (i > 0) stage.parent_position = int64_t(i - 1);
    stage.mamba_layers = counts[i];
    const int64_t from = i == 0 ? 0 : counts[i - 1];
    stage.new_layers.assign(plan.layer_order.begin() + from, plan.layer_order.begin() + counts[i]);
    std::sort(stage.new_layers.begin(), stage.new_layers.end());
    stage.layout = layout_text(layers, {plan.layer_order.begin(), plan.layer_order.begin() + counts[i]});
    stage.token_budget = request.stage_tokens;
    stage.rescore = request.strategy == Strategy::Paper && i > 0;
    plan.stages.push_back(std::move(stage));
  }

  // Quality: per-layer drops add up, sample by sample (MMR's post-probe KL where
  // measured, else LOO's); the interval is a bootstrap of the summed samples.
  const bool from_mmr = scores.mmr.size() == std::size_t(layers);
  const LayerSamples* quality = from_mmr                                   ? &scores.mmr
                                : scores.loo.size() == std::size_t(layers) ? &scores.loo
                                                                           : nullptr;
  auto ssm_config = config;
  ssm_config.ssm = model::mil_ssm_config(config, request.d_state);
  const auto teacher = predict_cost(config, model::Layout::all_attention(layers), workload, rates);
  for (const int64_t target : targets) {
    store::PlanTargetRecord record;
    record.mamba_layers = target;
    const std::vector<int64_t> chosen(plan.layer_order.begin(), plan.layer_order.begin() + target);
    record.layout = layout_text(layers, chosen);
    record.stage_position = int64_t(std::find(counts.begin(), counts.end(), target) - counts.begin());
    record.quality_metric = quality ? (from_mmr ? "sum of MMR kl" : "sum of LOO kl") : "none (no scores)";
    if (quality) {
      std::vector<double> sums;
      for (const int64_t layer : chosen) {
        const auto& values = quality->at(layer);
        if (sums.empty()) sums.assign(values.size(), 0.0);
        if (values.size() != sums.size())
          fail("plan: layer ", layer, " has ", values.size(), " samples, others ", sums.size());
        for (std::size_t i = 0; i < values.size(); ++i) sums[i] += values[i];
      }
      record.predicted_quality = store::bootstrap_mean(sums, {int(bootstrap_resamples), 0.95, request.seed});
    }
    const auto cost = predict_cost(ssm_config, model::Layout::parse(record.layout, layers, "plan"), workload, rates);
    record.predicted_tokens_per_s = cost.decode_tokens_per_second;
    record.predicted_speedup =
        teacher.decode_tokens_per_second > 0 ? cost.decode_tokens_per_second / teacher.decode_tokens_per_second : 0;
    record.memory_per_sequence = cost.memory_per_sequence;
    record.max_batch = cost.max_batch;
    plan.targets.push_back(std::move(record));
  }
  return plan;
}

}  // namespace hybridize::search
