#include "model/attention.h"

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

at::Tensor Attention::forward(const at::Tensor& hidden, MixerContext& context) {
  const int64_t batch = hidden.size(0), length = hidden.size(1);
  // [B, T, heads * D] -> [B, heads, T, D]
  auto split = [&](const at::Tensor& x, int64_t heads) { return x.view({batch, length, heads, head_dim}).transpose(1, 2); };
  const auto q = apply_rotary(split(q_proj(hidden), num_heads), context.cos, context.sin);
  const auto k = apply_rotary(split(k_proj(hidden), num_kv_heads), context.cos, context.sin);
  const auto v = split(v_proj(hidden), num_kv_heads);
  const auto& mask = context.window_mask(window);
  const auto out = at::scaled_dot_product_attention(q, k, v, mask.defined() ? std::optional<at::Tensor>(mask) : std::nullopt,
                                                    /*dropout_p=*/0.0, /*is_causal=*/!mask.defined(),
                                                    /*scale=*/std::nullopt, /*enable_gqa=*/num_heads != num_kv_heads);
  return o_proj(out.transpose(1, 2).reshape({batch, length, num_heads * head_dim}));
}

}  // namespace hybridize::model
