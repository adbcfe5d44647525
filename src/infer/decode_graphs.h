#pragma once
// Decode steps replayed from a CUDA graph. Eager decoding launches every layer's
// small kernels from the host one by one, and at small per-step work the host,
// not the GPU, sets the pace; a graph launches a whole step at once.
//
// A graph fixes its tensors' shapes and addresses, so the steps run on the
// state's preallocated caches and the token ids go through one static buffer.
// One graph serves every step of the state: the flash attention kernel reads
// each row's key count from the device, and the reference attention (fp32, or
// no flash kernel) spans the cache's whole max_length, masked.
#include <cstdint>
#include <memory>

#include "model/causal_lm.h"

namespace hybridize::infer {

class DecodeGraphs {
 public:
  // For `state` on a CUDA device; `model` and `state` must outlive this
  // object. Fails in builds without CUDA.
  DecodeGraphs(model::CausalLMImpl& model, model::InferenceState& state);
  ~DecodeGraphs();
  DecodeGraphs(const DecodeGraphs&) = delete;
  DecodeGraphs& operator=(const DecodeGraphs&) = delete;

  // decode_step's contract: logits [batch, vocab] of the new tokens, valid
  // until the next step. The first call runs eagerly (it warms up libraries
  // and kernels on the capture stream) and captures the graph; later calls
  // replay it. Rows may take and give back sequences between steps.
  at::Tensor step(const at::Tensor& input_ids);

 private:
  struct Captured;  // CUDA-only parts
  model::CausalLMImpl& model_;
  model::InferenceState& state_;
  std::unique_ptr<Captured> captured_;
};

}  // namespace hybridize::infer
