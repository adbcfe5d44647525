#pragma once
// Grouped-query self-attention with RoPE, through at::scaled_dot_product_attention
// (flash / cuDNN kernels on GPU, the math kernel on CPU).
#include "io/hf_config.h"
#include "model/linear.h"
#include "model/mixer.h"

namespace hybridize::model {

class Attention : public SequenceMixer {
 public:
  Attention(const io::TransformerConfig& config, int64_t window, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& hidden, MixerContext& context) override;

  Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  const int64_t num_heads, num_kv_heads, head_dim;
  const int64_t window;  // 0 = full causal attention
};

}  // namespace hybridize::model
