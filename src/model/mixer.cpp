#include "model/mixer.h"

namespace hybridize::model {

const at::Tensor& MixerContext::window_mask(int64_t window) {
  static const at::Tensor none;
  if (window <= 0 || window >= sequence_length) return none;  // the window covers everything
  auto& mask = window_masks_[window];
  if (!mask.defined()) {
    const auto positions = at::arange(sequence_length, at::TensorOptions().dtype(at::kLong).device(device));
    const auto distance = positions.unsqueeze(1) - positions.unsqueeze(0);  // query - key
    mask = distance.ge(0).logical_and(distance.lt(window));
  }
  return mask;
}

}  // namespace hybridize::model
