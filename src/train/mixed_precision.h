#pragma once
// Mixed precision of training: bf16 autocast for the forward pass while the
// trained parameters and the AdamW state stay fp32 (the Optimizer requires
// fp32 trained parameters). A setting chooses it; by default a CUDA run with a
// bf16 teacher uses it and an fp32 run does not. bf16 keeps fp32's exponent
// range, so no loss scaling is needed and non-finite steps are skipped as ever.
#include <ATen/ATen.h>

#include <string>

#include "model/autocast_region.h"

namespace hybridize::train {

enum class Autocast { Auto, On, Off };
Autocast parse_autocast(const std::string& name);  // auto, on, off; throws Error naming --autocast
const char* autocast_name(Autocast setting);

// The autocast state of a run's forward passes given the teacher's weights:
// Auto is on for bf16 weights on CUDA; On autocasts to bf16 on any device.
model::AutocastState resolve_autocast(Autocast setting, const at::Tensor& teacher_weight);

// Final hidden states as the chunked losses take them: in the autocast dtype,
// so that the vocabulary matmul runs in bf16 in the loss's forward pass and in
// its recomputing backward pass alike (that pass runs outside autocast).
at::Tensor loss_hidden(const at::Tensor& hidden, const model::AutocastState& state);

}  // namespace hybridize::train
