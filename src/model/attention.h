#pragma once
// Grouped-query self-attention with RoPE: whole sequences through
// at::scaled_dot_product_attention (flash / cuDNN kernels on GPU, the math
// kernel on CPU); prefill chunks and decode steps over the KV cache through
// model/cache_attention.h.
#include "io/hf_config.h"
#include "model/linear.h"
#include "model/mixer.h"

namespace hybridize::model {

class Attention : public SequenceMixer {
 public:
  Attention(const io::TransformerConfig& config, int64_t window, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& hidden, MixerContext& context) override;
  // A prefill chunk at positions [context.start, context.start + T): writes its
  // K and V there in the cache, then attends over the cache up to each query.
  at::Tensor prefill(const at::Tensor& hidden, MixerContext& context, LayerCache& cache) override;
  // Writes the new K and V at each row's position, then attends over that row's cached keys.
  at::Tensor decode(const at::Tensor& hidden, DecodeContext& context, LayerCache& cache) override;

  Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  const int64_t num_heads, num_kv_heads, head_dim;
  const int64_t window;  // 0 = full causal attention

 private:
  struct Heads {
    at::Tensor q, k, v;  // [B, heads, T, D], q and k rotated
  };
  Heads project(const at::Tensor& hidden, const at::Tensor& cos, const at::Tensor& sin);
};

}  // namespace hybridize::model
