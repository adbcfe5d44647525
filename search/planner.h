#pragma once
// Replacement plans: which layers become Mamba, in which order and stages,
// and what each target ratio is predicted to cost in quality and gain in
// throughput. Strategies:
//   paper    the least important layers by LOO first (the first stage), then
//            by MMR; each later stage re-ranks the remaining layers with MMR
//            probes on the previous stage's student (Apriel-H1)
//   loo | mmr | proxy   one score's order throughout
//   uniform  evenly spread (van der Corput order, so every prefix is spread)
//   random   a seeded permutation (the baseline)
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "io/hf_config.h"
#include "search/cost_model.h"
#include "store/results_store.h"

namespace hybridize::search {

enum class Strategy { Paper, Loo, Mmr, Proxy, Uniform, Random };
Strategy parse_strategy(const std::string& name);
const char* strategy_name(Strategy strategy);

// Per-sample scores of one metric by layer (bigger = more important).
using LayerSamples = std::map<int64_t, std::vector<double>>;

struct ScoreTables {
  LayerSamples loo;    // LOO kl (attention removed)
  LayerSamples mmr;    // MMR held-out kl after the probe
  LayerSamples proxy;  // the chosen proxy metric
};

struct PlanRequest {
  Strategy strategy = Strategy::Paper;
  std::vector<int64_t> targets;  // Mamba layer counts, e.g. {25, 30, 40}
  std::vector<int64_t> keep;     // layers that stay attention
  int64_t min_attention = 1;
  int64_t max_per_stage = 0;  // layers added per stage after the first; 0: 8% of the layers
  int64_t stage_tokens = 0;   // distillation token budget of each stage
  int64_t d_state = 16;       // SSM state of the Mamba layers, for the memory and throughput figures
  uint64_t seed = 0;
};

// Throws Error naming the flag when the request cannot be met by a model of
// `layers` layers (targets, --keep, --min-attention).
void validate_plan_request(const PlanRequest& request, int64_t layers);

// Throws Error naming the flag when the request cannot be met, or naming the
// missing scores and the command that makes them.
store::PlanRecord make_plan(const PlanRequest& request, const io::TransformerConfig& config, const ScoreTables& scores,
                            const Workload& workload, const HardwareRates& rates, int64_t bootstrap_resamples = 1000);

// Evenly spread order of n layers: van der Corput positions, first unused layer at each.
std::vector<int64_t> spread_order(int64_t layers);

}  // namespace hybridize::search
