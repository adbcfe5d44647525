#include "search/stage_rescoring.h"

#include <algorithm>
#include <numeric>
#include <string>

#include "core/error.h"
#include "core/log.h"

namespace hybridize::search {

StageRescoring rescore_stage(model::CausalLMImpl& parent, int64_t count, const std::set<int64_t>& keep,
                             const train::SequenceSet& train_set, const train::SequenceSet& eval_set,
                             const MmrOptions& options) {
  std::vector<std::pair<double, int64_t>> ranked;  // (mean distill_loss, layer)
  std::vector<int64_t> candidates;
  for (int64_t layer = 0; layer < parent.layout.size(); ++layer)
    if (parent.layout[layer] == model::MixerKind::Attention && !keep.count(layer)) candidates.push_back(layer);
  if (count < 1 || count > int64_t(candidates.size()))
    fail("re-ranking a stage: it adds ", count, " Mamba layers but its parent ", parent.layout.to_string(), " has ",
         candidates.size(), " attention layers that may be replaced");

  // The probes train only their own mixer: the parent's parameters stay out
  // of the autograd graph, and are given back as they were.
  std::vector<std::pair<at::Tensor, bool>> trainable;
  for (auto& parameter : parent.parameters()) {
    trainable.emplace_back(parameter, parameter.requires_grad());
    parameter.set_requires_grad(false);
  }
  StageRescoring out;
  for (const int64_t layer : candidates) {
    const auto probe = run_mmr_probe(parent, layer, train_set, eval_set, options);
    const auto& losses = probe.held_out.at("distill_loss");
    const double mean = std::accumulate(losses.begin(), losses.end(), 0.0) / double(losses.size());
    out.probes[std::to_string(layer)] = mean;
    ranked.emplace_back(mean, layer);
    log_info("re-rank: layer ", layer, " probe distill_loss ", mean);
  }
  for (auto& [parameter, requires_grad] : trainable) parameter.set_requires_grad(requires_grad);

  std::sort(ranked.begin(), ranked.end());
  for (int64_t i = 0; i < count; ++i) out.new_layers.push_back(ranked[std::size_t(i)].second);
  std::sort(out.new_layers.begin(), out.new_layers.end());
  out.layout = parent.layout.with(model::MixerKind::Mamba, out.new_layers);
  return out;
}

}  // namespace hybridize::search
