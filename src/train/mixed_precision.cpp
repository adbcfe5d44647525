#include "train/mixed_precision.h"

#include "core/error.h"
#include "core/spelling.h"

namespace hybridize::train {

namespace {
constexpr Spelling<Autocast> kAutocast[] = {{Autocast::Auto, "auto"}, {Autocast::On, "on"}, {Autocast::Off, "off"}};
}  // namespace

Autocast parse_autocast(const std::string& name) { return parse_spelling(kAutocast, name, "--autocast"); }

const char* autocast_name(Autocast setting) { return spelling_of(kAutocast, setting); }

model::AutocastState resolve_autocast(Autocast setting, const at::Tensor& teacher_weight) {
  // fp16 teachers stay off under Auto: fp16 autocast would need loss scaling.
  const bool enabled = setting == Autocast::On || (setting == Autocast::Auto && teacher_weight.is_cuda() &&
                                                   teacher_weight.scalar_type() == at::kBFloat16);
  return {enabled, at::kBFloat16};
}

at::Tensor loss_hidden(const at::Tensor& hidden, const model::AutocastState& state) {
  return state.enabled ? hidden.to(state.dtype) : hidden;
}

}  // namespace hybridize::train
