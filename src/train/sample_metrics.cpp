#include "train/sample_metrics.h"

#include "core/error.h"

namespace hybridize::train {

CountedTokens counted_tokens(const at::Tensor& loss_mask) {
  const auto flat_index = loss_mask.flatten().nonzero().squeeze(1);
  return {flat_index, at::div(flat_index, loss_mask.size(1), "floor")};
}

std::vector<double> per_sample_mean(const at::Tensor& values, const at::Tensor& rows, int64_t samples) {
  const auto options = at::TensorOptions().dtype(at::kDouble).device(values.device());
  const auto sums = at::zeros({samples}, options).index_add_(0, rows, values.to(at::kDouble));
  const auto counts = at::zeros({samples}, options).index_add_(0, rows, at::ones_like(values, options));
  if ((counts == 0).any().item<bool>()) fail("a sample has no counted tokens (empty loss mask)");
  const auto means = (sums / counts).cpu();
  return {means.data_ptr<double>(), means.data_ptr<double>() + samples};
}

}  // namespace hybridize::train
