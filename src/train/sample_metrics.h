#pragma once
// Per-sample means of per-token values: what scoring and stage evaluation
// report, so that confidence intervals can be taken over samples.
#include <cstdint>
#include <vector>

#include <ATen/ATen.h>

namespace hybridize::train {

// The counted positions of a [B, T] loss mask, flattened.
struct CountedTokens {
  at::Tensor flat_index;  // [n] positions in B*T
  at::Tensor rows;        // [n] the sample each belongs to
  // hidden [B, T, H] -> [n, H]
  at::Tensor select(const at::Tensor& hidden) const { return hidden.flatten(0, 1).index_select(0, flat_index); }
};
CountedTokens counted_tokens(const at::Tensor& loss_mask);

// Means of per-token `values` [n] over the tokens of each sample: `rows` [n]
// gives each token's sample in [0, samples). Throws Error when a sample has no token.
std::vector<double> per_sample_mean(const at::Tensor& values, const at::Tensor& rows, int64_t samples);

}  // namespace hybridize::train
