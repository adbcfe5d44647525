#include "model/attention.h"

#include "model/cache_attention.h"
#include "model/inference_state.h"
#include "model/rotary.h"

namespace hybridize::model {

Attention::Attention(const io::TransformerConfig& config, int64_t window_, const at::TensorOptions& options)
    : num_heads(config.num_heads), num_kv_heads(config.num_kv_heads), head_dim(config.head_dim), window(window_) {
  const int64_t q_width = num_heads * head_dim, kv_width = num_kv_heads * head_dim;
  q_proj = register_module("q_proj", Linear(config.hidden_size, q_width, config.qkv_bias, options));
  k_proj = register_module("k_proj", Linear(config.hidden_size, kv_width, config.qkv_bias, options));
  v_proj = register_module("v_proj", Linear(config.hidden_size, kv_width, config.qkv_bias, options));
  o_proj = register_module("o_proj", Linear(q_width, config.hidden_size, config.o_proj_bias, options));
}

Attention::Heads Attention::project(const at::Tensor& hidden, const at::Tensor& cos, const at::Tensor& sin) {
  const int64_t batch = hidden.size(0), length = hidden.size(1);
  // [B, T, heads * D] -> [B, heads, T, D]
  auto split = [&](const at::Tensor& x, int64_t heads) {
    return x.view({batch, length, heads, head_dim}).transpose(1, 2);
  };
  return {apply_rotary(split(q_proj(hidden), num_heads), cos, sin),
          apply_rotary(split(k_proj(hidden), num_kv_heads), cos, sin), split(v_proj(hidden), num_kv_heads)};
}

at::Tensor Attention::forward(const at::Tensor& hidden, MixerContext& context) {
  const auto heads = project(hidden, context.cos, context.sin);
  const auto& mask = context.window_mask(window);  // undefined: plain causal attention
  const int64_t batch = hidden.size(0), length = hidden.size(1);
  const auto out = at::scaled_dot_product_attention(heads.q, heads.k, heads.v,
                                                    mask.defined() ? std::optional<at::Tensor>(mask) : std::nullopt,
                                                    /*dropout_p=*/0.0, /*is_causal=*/!mask.defined(),
                                                    /*scale=*/std::nullopt, /*enable_gqa=*/num_heads != num_kv_heads);
  return o_proj(out.transpose(1, 2).reshape({batch, length, num_heads * head_dim}));
}

at::Tensor Attention::prefill(const at::Tensor& hidden, MixerContext& context, LayerCache& cache) {
  const auto heads = project(hidden, context.cos, context.sin);
  const int64_t rows = hidden.size(0), chunk = hidden.size(1);
  // The chunk's keys and values join the cache at its positions, then its
  // queries attend over everything cached up to them.
  cache.key.narrow(1, context.start, chunk).copy_(heads.k.transpose(1, 2));
  cache.value.narrow(1, context.start, chunk).copy_(heads.v.transpose(1, 2));
  const auto out = chunk_attention(heads.q.transpose(1, 2), cache.key, cache.value, context.start + chunk, window);
  return o_proj(out.reshape({rows, chunk, num_heads * head_dim}));
}

at::Tensor Attention::decode(const at::Tensor& hidden, DecodeContext& context, LayerCache& cache) {
  const auto heads = project(hidden, context.cos, context.sin);
  const int64_t batch = hidden.size(0);
  // Each row's new K and V go to its own position: a scatter, not a host-side index.
  const auto slot = context.positions.view({-1, 1, 1, 1}).expand({batch, 1, num_kv_heads, head_dim});
  cache.key.scatter_(1, slot, heads.k.transpose(1, 2));
  cache.value.scatter_(1, slot, heads.v.transpose(1, 2));
  const auto out = decode_attention(heads.q.squeeze(2), cache.key, cache.value, context, window);
  return o_proj(out.reshape({batch, 1, num_heads * head_dim}));
}

}  // namespace hybridize::model
