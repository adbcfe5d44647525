#pragma once
// Cheap importance proxies, all layers from one teacher pass. Per sample, the
// mean over counted tokens of:
//   block_influence      1 - cos(stream into the layer, stream out of it)
//   attention_influence  1 - cos(stream into the layer, stream after its mixer)
//   attention_norm_ratio |mixer update| / |stream into the layer|
// (block influence is ShortGPT's measure; the other two isolate the mixer that
// a replacement would change).
#include <cstdint>
#include <vector>

#include "model/causal_lm.h"
#include "search/layer_scores.h"

namespace hybridize::search {

BatchScores score_proxy_batch(model::CausalLMImpl& model, const at::Tensor& input_ids, const at::Tensor& loss_mask,
                              const std::vector<int64_t>& layers);

}  // namespace hybridize::search
