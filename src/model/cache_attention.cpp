#include "model/cache_attention.h"

#include <optional>

#include "model/inference_state.h"

namespace hybridize::model {

namespace {

// FlashAttention's window: keys at most `left` positions before the query (-1: no limit).
std::optional<int64_t> window_left(int64_t window) {
  return window > 0 ? std::optional<int64_t>(window - 1) : std::nullopt;
}

// [rows, T, kv_heads, D] -> [rows, kv_heads, T, D], the layout SDPA takes (a view).
at::Tensor heads_first(const at::Tensor& t) { return t.transpose(1, 2); }

}  // namespace

bool cache_attention_uses_flash(const at::Tensor& q) {
  const int64_t head_dim = q.size(-1);
  return q.is_cuda() && (q.scalar_type() == at::kBFloat16 || q.scalar_type() == at::kHalf) && head_dim % 8 == 0 &&
         head_dim <= 256;
}

at::Tensor chunk_attention(const at::Tensor& q, const at::Tensor& key_cache, const at::Tensor& value_cache,
                           int64_t keys, int64_t window) {
  const int64_t rows = q.size(0), chunk = q.size(1), heads = q.size(2);
  const auto k = key_cache.narrow(1, 0, keys), v = value_cache.narrow(1, 0, keys);
  if (cache_attention_uses_flash(q)) {
    // Causal masking in FlashAttention-2 aligns the last query with the last key,
    // which is what a chunk after `keys - chunk` cached keys needs.
    return std::get<0>(at::_flash_attention_forward(q, k, v, std::nullopt, std::nullopt, chunk, keys, 0.0,
                                                    /*is_causal=*/true, false, std::nullopt, window_left(window),
                                                    std::nullopt));
  }
  const auto query_positions = at::arange(keys - chunk, keys, q.options().dtype(at::kLong));
  const auto back = query_positions.unsqueeze(1) - at::arange(keys, query_positions.options()).unsqueeze(0);
  auto allowed = back.ge(0);
  if (window > 0) allowed = allowed.logical_and(back.lt(window));
  const auto out = at::scaled_dot_product_attention(heads_first(q), heads_first(k), heads_first(v), allowed, 0.0, false,
                                                    std::nullopt, /*enable_gqa=*/heads != k.size(2));
  return out.transpose(1, 2).reshape({rows, chunk, heads, q.size(3)});
}

at::Tensor decode_attention(const at::Tensor& q, const at::Tensor& key_cache, const at::Tensor& value_cache,
                            DecodeContext& context, int64_t window) {
  const int64_t batch = q.size(0), heads = q.size(1), head_dim = q.size(2);
  const int64_t kv_heads = key_cache.size(2), max_length = key_cache.size(1);
  if (cache_attention_uses_flash(q)) {
    // Each row one sequence of the variable-length kernel: its keys start at
    // its own cache row and it uses as many as it holds.
    const auto& keys = context.flash_keys(max_length);
    const auto flat = [&](const at::Tensor& cache) { return cache.view({batch * max_length, kv_heads, head_dim}); };
    return std::get<0>(at::_flash_attention_forward(q, flat(key_cache), flat(value_cache), keys.query_offsets,
                                                    keys.key_offsets, 1, max_length, 0.0, /*is_causal=*/true, false,
                                                    std::nullopt, window_left(window), std::nullopt, keys.key_counts));
  }
  // The query heads that share a KV head become that head's query rows, [B, kv_heads, group, D]:
  // plain attention over the cache where it lies (SDPA asked for GQA with a mask copies the cache
  // out to every query head).
  const auto grouped = q.reshape({batch, kv_heads, heads / kv_heads, head_dim});
  const int64_t extent = context.key_extent;
  const auto out =
      at::scaled_dot_product_attention(grouped, heads_first(key_cache.narrow(1, 0, extent)),
                                       heads_first(value_cache.narrow(1, 0, extent)), context.key_mask(window));
  return out.reshape({batch, heads, head_dim});
}

}  // namespace hybridize::model
