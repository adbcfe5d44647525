#pragma once
// The "m2" Mamba mixer of Apriel-H hybrids (Mamba-in-Llama): parameter names
// and shapes as the released checkpoints store them under "mixer.":
//   in_proj  [2*d_inner + 2*d_xb + dt_rank, hidden], rows [z | x | B | C | dt]
//   dt_proj  [d_inner, dt_rank] (+ bias), conv1d [conv channels, 1, d_conv] (+ bias),
//   A_log    [d_inner, d_state], D [d_inner], out_proj [hidden, d_inner]
#include <cstdint>
#include <optional>
#include <vector>

#include "io/hf_config.h"
#include "model/linear.h"
#include "model/mixer.h"

namespace hybridize::model {

class Mamba : public SequenceMixer {
 public:
  Mamba(const io::TransformerConfig& config, const io::SsmConfig& ssm, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& hidden, MixerContext& context) override;
  // Continues the cached conv window and SSM state over a prefill chunk and keeps
  // them at its end.
  at::Tensor prefill(const at::Tensor& hidden, MixerContext& context, LayerCache& cache) override;
  // One token through the step kernels, advancing the conv window and SSM state.
  at::Tensor decode(const at::Tensor& hidden, DecodeContext& context, LayerCache& cache) override;

  // Initialises every parameter the way a freshly built m2 mixer is (uniform
  // fan-in bounds for projections and conv, the dt bias as softplus^-1 of a
  // log-uniform step in [dt_min, dt_max], A_log = log(1..d_state), D = 1),
  // drawing from `seed` so that runs repeat.
  void reset_parameters(uint64_t seed);

  const io::SsmConfig ssm;
  Linear in_proj{nullptr}, dt_proj{nullptr}, out_proj{nullptr};
  DepthwiseConv1d conv1d{nullptr};
  at::Tensor A_log, D;

 private:
  // The whole-sequence path; fills `cache` when given.
  at::Tensor scan_sequence(const at::Tensor& hidden, LayerCache* cache);
  // [..., d_xb] -> [..., d_inner]: each d_state block repeated for the C heads that share it.
  at::Tensor widen(const at::Tensor& narrow) const;
  // B and C keep their head structure: [..., width] -> [..., width / d_state, d_state]. B has
  // d_xb / d_state groups, each shared by `repeat` C heads (the GQA pattern MIL copies from k/q).
  at::Tensor state_groups(const at::Tensor& flat) const;
  at::Tensor decay_rates() const;  // A = -exp(A_log), fp32
  std::optional<at::Tensor> conv_bias() const;
  std::vector<at::Tensor> split_projection(const at::Tensor& hidden);  // [z | x | B | C | dt]
};

}  // namespace hybridize::model
