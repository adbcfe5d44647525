#pragma once
// The state incremental decoding keeps between steps, preallocated once for a
// batch and a maximum length so that a decode step allocates nothing and its
// tensors keep their addresses (what a CUDA graph capture needs):
//   attention layers: K and V caches [batch, kv_heads, max_length, head_dim] (model dtype)
//   Mamba layers:     conv window [batch, conv_channels, d_conv] (model dtype)
//                     and SSM state [batch, d_inner, d_state] (fp32; fp64 for fp64 models)
//   identity layers:  nothing.
#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <vector>

#include "io/hf_config.h"
#include "model/layout.h"

namespace hybridize::model {

class CausalLMImpl;

// One layer's state; only the tensors of the layer's mixer kind are defined.
struct LayerCache {
  at::Tensor key, value;  // attention
  at::Tensor conv, ssm;   // Mamba

  // Views of rows [first, first + count): writes through them land in this cache.
  LayerCache rows(int64_t first, int64_t count) const;
};

class InferenceState {
 public:
  // Zeroed state for `batch` sequences of up to `max_length` tokens each
  // (prompt and generated together).
  InferenceState(const io::TransformerConfig& config, const Layout& layout, int64_t batch, int64_t max_length,
                 at::ScalarType dtype, at::Device device);
  // Sized for `model`'s config, layout, dtype and device.
  InferenceState(CausalLMImpl& model, int64_t batch, int64_t max_length);

  int64_t batch() const { return batch_; }
  int64_t max_length() const { return max_length_; }
  // The most tokens any row holds. Tracked on the host (prompt lengths and step
  // counts are known there), so no sync.
  int64_t key_extent() const { return key_extent_; }
  // Keys the next decode step attends over: the filled prefix and the new token,
  // rounded up to a multiple of the key bucket (the slots past a row's position
  // masked), at most max_length. With a bucket, many steps share one shape, so
  // one captured CUDA graph serves them all (infer/decode_graphs.h).
  int64_t decode_key_extent() const { return bucketed_key_extent(key_extent_ + 1); }
  // `extent` rounded up as decode_key_extent() rounds it.
  int64_t bucketed_key_extent(int64_t extent) const;
  // Tokens a key bucket spans; 1 (the default) attends over exactly the filled prefix.
  void set_key_bucket(int64_t tokens);
  // Sequences' token counts, [batch] int64 on the state's device: the position
  // the next token takes.
  const at::Tensor& lengths() const { return lengths_; }

  std::vector<LayerCache> layers;

  // Called by CausalLMImpl's prefill and decode_step. A decode step's device work
  // (advance_lengths, which a CUDA graph captures) is apart from its host
  // bookkeeping (note_decode_step, which runs at every replay).
  void note_prefill(int64_t first_row, int64_t count, int64_t length);
  void advance_lengths();
  void note_decode_step();
  bool is_prefilled() const;

 private:
  int64_t batch_, max_length_;
  int64_t key_extent_ = 0;
  int64_t key_bucket_ = 1;
  at::Tensor lengths_;
  std::vector<bool> prefilled_rows_;
};

// Bytes of state one sequence of `max_length` tokens holds in `layout`: the
// KV cache of every attention layer plus the recurrent state of every Mamba
// layer (zero-cost identity layers). Exactly what InferenceState allocates per row.
int64_t inference_state_bytes_per_sequence(const io::TransformerConfig& config, const Layout& layout,
                                           int64_t max_length, at::ScalarType dtype);

// What every layer of one decode step shares: RoPE tables at each row's
// position and the key masks (one per attention window), built once per step.
class DecodeContext {
 public:
  // positions: [batch] int64, each row's new token position; cos/sin [batch, 1, head_dim].
  DecodeContext(at::Tensor positions, at::Tensor cos, at::Tensor sin, int64_t key_extent);

  // Boolean [batch, 1, 1, key_extent] (true = may attend): keys at or before the
  // row's position and, for a window, fewer than `window` tokens back.
  const at::Tensor& key_mask(int64_t window);

  const at::Tensor positions, cos, sin;
  const int64_t key_extent;

 private:
  std::map<int64_t, at::Tensor> masks_;
};

}  // namespace hybridize::model
