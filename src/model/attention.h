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
  // Writes the prompts' K and V at positions [0, T) of the cache.
  at::Tensor prefill(const at::Tensor& hidden, MixerContext& context, LayerCache& cache) override;
  // Writes the new K and V at each row's position, then attends over the cache's first key_extent keys.
  at::Tensor decode(const at::Tensor& hidden, DecodeContext& context, LayerCache& cache) override;

  Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  const int64_t num_heads, num_kv_heads, head_dim;
  const int64_t window;  // 0 = full causal attention

 private:
  struct Heads {
    at::Tensor q, k, v;  // [B, heads, T, D], q and k rotated
  };
  Heads project(const at::Tensor& hidden, const at::Tensor& cos, const at::Tensor& sin);
  // Attention of q over k, v under `mask` (undefined: causal), projected back to [B, T, hidden].
  at::Tensor attend(const Heads& heads, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask);
};

}  // namespace hybridize::model
