#pragma once
// How many sequences fit a memory budget, from the model's shape alone: the
// weights and one prefill workspace once, plus per sequence its decoding state
// and its share of a decode step.
#include <ATen/ATen.h>

#include <cstdint>

#include "io/hf_config.h"
#include "model/layout.h"

namespace hybridize::infer {

struct MemoryEstimate {
  int64_t weight_bytes = 0;  // every parameter at its own dtype (A_log and D stay fp32)
  // One prefill forward (infer/generate.h: chunked, at most prefill_tokens
  // tokens, and at most kMaxPrefillRows prompts of at most `length` tokens), a
  // fixed workspace whatever the batch:
  //   per token, the residual stream and its normed copy  2 x hidden
  //   and the widest transient of one layer (freed before the next):
  //     MLP   gate, up, and their product             3 x intermediate
  //     attention q, k, v and the output            (2 heads + 2 kv_heads) x head_dim
  //     Mamba in_proj, conv output, y, gated y      in_proj rows + 3 d_inner
  //           plus fp32 copies of x and delta       2 x d_inner x 4 bytes
  //   in the model dtype; and its rows' last-position logits and sampling
  //   buffers (fp32 probabilities, sorted values, int64 order): vocab x (dtype
  //   + 16 bytes) a row, at most kMaxPrefillRows rows.
  // Attention scores are not counted: on a GPU the flash kernel never
  // materialises them.
  int64_t workspace_bytes = 0;
  // model::inference_state_bytes_per_sequence at the full length.
  int64_t state_bytes_per_sequence = 0;
  // A decode step's share for one row: one token's transients (as above) and
  // its logits and sampling buffers.
  int64_t decode_bytes_per_sequence = 0;

  int64_t bytes_per_sequence() const { return state_bytes_per_sequence + decode_bytes_per_sequence; }
};

// `config` must carry SSM settings when `layout` has Mamba layers; `length` is
// prompt + generated tokens; `prefill_tokens` as GenerationOptions has it.
MemoryEstimate estimate_memory(const io::TransformerConfig& config, const model::Layout& layout, int64_t length,
                               at::ScalarType dtype, int64_t prefill_tokens);

// The largest batch whose weights, workspace and per-sequence bytes fit `budget_bytes`; 0 when not even one does.
int64_t max_batch_for_memory(const io::TransformerConfig& config, const model::Layout& layout, int64_t length,
                             at::ScalarType dtype, int64_t prefill_tokens, int64_t budget_bytes);

// Hands the caching allocator's unused blocks on `device` back to the driver
// (a no-op off CUDA). Between benchmarked layouts: freed CUDA-graph pools and a
// larger layout's fragments otherwise stay reserved, and the next layout's
// batch, sized from the budget, would not fit.
void release_cached_memory(const at::Device& device);

}  // namespace hybridize::infer
