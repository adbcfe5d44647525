#pragma once
// Rotary position embeddings (RoPE), with linear and llama3 frequency scaling.
#include <torch/nn/module.h>

#include "io/hf_config.h"

namespace hybridize::model {

// Inverse frequencies (head_dim / 2 of them) after scaling, in fp32 on the CPU.
at::Tensor rope_inverse_frequencies(int64_t head_dim, double theta, const io::RopeScaling& scaling);

class RotaryEmbeddingImpl : public torch::nn::Module {
 public:
  RotaryEmbeddingImpl(const io::TransformerConfig& config, const at::Device& device);
  // cos and sin for `positions` (int64, [T] or [B, T]), each [..., T, head_dim], in `dtype`.
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& positions, at::ScalarType dtype);

  at::Tensor inv_freq;  // a buffer: moves with the module, is never loaded or saved
};
TORCH_MODULE(RotaryEmbedding);

// Applies the rotation to x [B, heads, T, head_dim] with cos/sin [T, head_dim] or [B, T, head_dim].
at::Tensor apply_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

}  // namespace hybridize::model
