#pragma once
// The "m2" Mamba mixer of Apriel-H hybrids (Mamba-in-Llama): parameter names
// and shapes as the released checkpoints store them under "mixer.":
//   in_proj  [2*d_inner + 2*d_xb + dt_rank, hidden], rows [z | x | B | C | dt]
//   dt_proj  [d_inner, dt_rank] (+ bias), conv1d [conv channels, 1, d_conv] (+ bias),
//   A_log    [d_inner, d_state], D [d_inner], out_proj [hidden, d_inner]
#include <cstdint>

#include "io/hf_config.h"
#include "model/linear.h"
#include "model/mixer.h"

namespace hybridize::model {

class Mamba : public SequenceMixer {
 public:
  Mamba(const io::TransformerConfig& config, const io::SsmConfig& ssm, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& hidden, MixerContext& context) override;

  // Initialises every parameter the way a freshly built m2 mixer is (uniform
  // fan-in bounds for projections and conv, the dt bias as softplus^-1 of a
  // log-uniform step in [dt_min, dt_max], A_log = log(1..d_state), D = 1),
  // drawing from `seed` so that runs repeat.
  void reset_parameters(uint64_t seed);

  const io::SsmConfig ssm;
  Linear in_proj{nullptr}, dt_proj{nullptr}, out_proj{nullptr};
  DepthwiseConv1d conv1d{nullptr};
  at::Tensor A_log, D;
};

}  // namespace hybridize::model
