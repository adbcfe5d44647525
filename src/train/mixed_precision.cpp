#include "train/mixed_precision.h"

#include "core/error.h"

namespace hybridize::train {

Autocast parse_autocast(const std::string& name) {
  if (name == "auto") return Autocast::Auto;
  if (name == "on") return Autocast::On;
  if (name == "off") return Autocast::Off;
  fail("--autocast: '", name, "' is not one of auto, on, off");
}

const char* autocast_name(Autocast setting) {
  switch (setting) {
    case Autocast::Auto: return "auto";
    case Autocast::On: return "on";
    case Autocast::Off: return "off";
  }
  return "?";
}

model::AutocastState resolve_autocast(Autocast setting, const at::Tensor& teacher_weight) {
  // fp16 teachers stay off under Auto: fp16 autocast would need loss scaling.
  const bool enabled = setting == Autocast::On ||
                       (setting == Autocast::Auto && teacher_weight.is_cuda() &&
                        teacher_weight.scalar_type() == at::kBFloat16);
  return {enabled, at::kBFloat16};
}

at::Tensor loss_hidden(const at::Tensor& hidden, const model::AutocastState& state) {
  return state.enabled ? hidden.to(state.dtype) : hidden;
}

}  // namespace hybridize::train
