#pragma once
// Attention of new queries over the keys and values an InferenceState caches
// (token-major, [rows, max_length, kv_heads, head_dim]): a prefill chunk's
// queries over the keys before and within the chunk, and a decode step's one
// query per row over that row's own keys. On CUDA in bf16/fp16 both run
// FlashAttention-2 as LibTorch ships it: grouped KV heads read where they lie,
// per-row key counts (no mask, no padding to a common extent). Elsewhere the
// reference: scaled_dot_product_attention with an explicit mask.
#include <ATen/ATen.h>

#include <cstdint>

namespace hybridize::model {

class DecodeContext;  // model/inference_state.h

// Whether queries like `q` (and a cache in its dtype) take the flash path.
bool cache_attention_uses_flash(const at::Tensor& q);

// q [rows, chunk, heads, D] at positions [keys - chunk, keys) of rows whose
// caches already hold their first `keys` keys (this chunk's included): causal,
// and with window > 0 a query sees only keys fewer than `window` positions
// back. Returns [rows, chunk, heads, D].
at::Tensor chunk_attention(const at::Tensor& q, const at::Tensor& key_cache, const at::Tensor& value_cache,
                           int64_t keys, int64_t window);

// q [batch, heads, D], one query per row at position context.positions[row],
// whose key is already written: attends over keys [0, position] (within the
// window). Returns [batch, heads, D]. No host sync: a CUDA graph can capture it.
at::Tensor decode_attention(const at::Tensor& q, const at::Tensor& key_cache, const at::Tensor& value_cache,
                            DecodeContext& context, int64_t window);

}  // namespace hybridize::model
