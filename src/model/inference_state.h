#pragma once
// The state incremental decoding keeps, preallocated once for a number of rows
// (slots, one sequence each at a time) and a maximum length, so that a decode
// step allocates nothing and its tensors keep their addresses (what a CUDA
// graph capture needs):
//   attention layers: K and V caches [rows, max_length, kv_heads, head_dim]
//                     (model dtype; token-major, as FlashAttention reads them)
//   Mamba layers:     conv window [rows, conv_channels, d_conv] (model dtype)
//                     and SSM state [rows, d_inner, d_state] (fp32; fp64 for fp64 models)
//   identity layers:  nothing.
// A row takes a sequence (start_sequence), is prefilled chunk by chunk, decodes,
// and is given back (end_sequence) for the next one: continuous batching.
#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <optional>
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
  // `batch` rows of up to `max_length` tokens each (prompt and generated
  // together), every row holding an empty sequence.
  InferenceState(const io::TransformerConfig& config, const Layout& layout, int64_t batch, int64_t max_length,
                 at::ScalarType dtype, at::Device device);
  // Sized for `model`'s config, layout, dtype and device.
  InferenceState(CausalLMImpl& model, int64_t batch, int64_t max_length);

  int64_t batch() const { return batch_; }
  int64_t max_length() const { return max_length_; }
  // Tokens row `row` holds (host bookkeeping: no sync).
  int64_t length(int64_t row) const { return host_lengths_.at(static_cast<std::size_t>(row)); }
  bool holds_sequence(int64_t row) const { return active_rows_.at(static_cast<std::size_t>(row)); }
  // The most tokens any row holds.
  int64_t key_extent() const;
  // Sequences' token counts, [batch] int64 on the state's device: the position
  // the next token takes (0 in rows without a sequence).
  const at::Tensor& lengths() const { return lengths_; }

  std::vector<LayerCache> layers;

  // Row `row` takes a new, empty sequence: its recurrent state is zeroed.
  void start_sequence(int64_t row);
  // Row `row` gives its sequence back. Until it takes another, decode steps
  // feed it padding that stays at position 0 and is never read.
  void end_sequence(int64_t row);

  // Called by CausalLMImpl's prefill and decode_step. note_prefill appends
  // `length` tokens to rows [first_row, first_row + count), which must hold a
  // sequence of one length, and returns that length (the chunk's first
  // position). A decode step's device work (advance_lengths, which a CUDA
  // graph captures) is apart from its host bookkeeping (note_decode_step,
  // which runs at every replay).
  int64_t note_prefill(int64_t first_row, int64_t count, int64_t length);
  void advance_lengths();
  void note_decode_step();
  // Every row holding a sequence holds at least one token, and one row does.
  bool is_prefilled() const;

 private:
  int64_t batch_, max_length_;
  at::Tensor lengths_;
  at::Tensor active_;  // [batch] int64, 1 where a row holds a sequence: what a decode step advances
  std::vector<int64_t> host_lengths_;
  std::vector<bool> active_rows_;
};

// Bytes of state one sequence of `max_length` tokens holds in `layout`: the
// KV cache of every attention layer plus the recurrent state of every Mamba
// layer (zero-cost identity layers). Exactly what InferenceState allocates per row.
int64_t inference_state_bytes_per_sequence(const io::TransformerConfig& config, const Layout& layout,
                                           int64_t max_length, at::ScalarType dtype);

// What every layer of one decode step shares: RoPE tables at each row's
// position and what attention needs to find each row's keys, built once per step.
class DecodeContext {
 public:
  // positions: [batch] int64, each row's new token position; cos/sin [batch, 1, head_dim];
  // key_extent: keys the reference attention spans (at least every row's position + 1).
  DecodeContext(at::Tensor positions, at::Tensor cos, at::Tensor sin, int64_t key_extent);

  // Boolean [batch, 1, 1, key_extent] (true = may attend): keys at or before the
  // row's position and, for a window, fewer than `window` tokens back.
  const at::Tensor& key_mask(int64_t window);

  // The variable-length flash kernel's view of a cache of `max_length` slots a
  // row: int32 offsets of each row's query and first key, and its key count.
  struct FlashKeys {
    at::Tensor query_offsets, key_offsets, key_counts;
  };
  const FlashKeys& flash_keys(int64_t max_length);

  const at::Tensor positions, cos, sin;
  const int64_t key_extent;

 private:
  std::map<int64_t, at::Tensor> masks_;
  std::optional<FlashKeys> flash_keys_;
};

}  // namespace hybridize::model
