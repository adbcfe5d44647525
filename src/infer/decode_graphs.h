#pragma once
// Decode steps replayed from CUDA graphs. Eager decoding launches every layer's
// small kernels from the host one by one, and at small per-step work the host,
// not the GPU, sets the pace; a graph launches a whole step at once.
//
// A graph fixes its tensors' shapes and addresses, so the steps run on the
// state's preallocated caches, the token ids go through one static buffer, and
// attention spans a padded key extent: one graph per bucket of key extents
// (InferenceState::set_key_bucket), all captured at the first step.
#include <cstdint>
#include <memory>

#include "model/causal_lm.h"

namespace hybridize::infer {

// Tokens one key bucket spans: at most this many masked slots per attention
// step, and a generation of G tokens captures about G / 256 graphs.
inline constexpr int64_t kGraphKeyBucket = 256;

class DecodeGraphs {
 public:
  // For `state` on a CUDA device, prefilled; `model` and `state` must outlive
  // this object. Fails in builds without CUDA.
  DecodeGraphs(model::CausalLMImpl& model, model::InferenceState& state, int64_t key_bucket = kGraphKeyBucket);
  ~DecodeGraphs();
  DecodeGraphs(const DecodeGraphs&) = delete;
  DecodeGraphs& operator=(const DecodeGraphs&) = delete;

  // decode_step's contract: logits [batch, vocab] of the new tokens, valid
  // until the next step. The first call runs eagerly (it warms up libraries
  // and kernels on the capture stream) and captures the graphs of every later
  // key extent the state can reach; later calls replay them.
  at::Tensor step(const at::Tensor& input_ids);
  int64_t graphs_captured() const;

 private:
  struct Captured;  // CUDA-only parts
  model::CausalLMImpl& model_;
  model::InferenceState& state_;
  std::unique_ptr<Captured> captured_;
};

}  // namespace hybridize::infer
