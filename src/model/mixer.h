#pragma once
// The sequence mixer of a decoder layer is swappable: attention, or (in later
// layouts) a Mamba mixer. Each takes the normalised hidden states and returns
// the update added to the residual stream.
#include <torch/nn/module.h>
#include <map>

namespace hybridize::model {

struct LayerCache;    // model/inference_state.h
class DecodeContext;  // model/inference_state.h

// What every mixer of one forward pass shares: positions' RoPE tables and the
// attention masks, built once per pass rather than once per layer.
class MixerContext {
 public:
  // cos/sin for the pass's positions [start, start + sequence_length); start > 0
  // only for a prefill chunk after earlier ones.
  MixerContext(at::Tensor cos, at::Tensor sin, int64_t sequence_length, at::Device device, int64_t start = 0)
      : cos(std::move(cos)), sin(std::move(sin)), sequence_length(sequence_length), device(device), start(start) {}

  // Boolean [T, T] mask (true = may attend) for a causal window of `window`
  // tokens, or an undefined tensor when plain causal attention applies.
  const at::Tensor& window_mask(int64_t window);

  const at::Tensor cos, sin;
  const int64_t sequence_length;
  const at::Device device;
  const int64_t start;

 private:
  std::map<int64_t, at::Tensor> window_masks_;
};

class SequenceMixer : public torch::nn::Module {
 public:
  // hidden: [B, T, hidden_size], already normalised.
  virtual at::Tensor forward(const at::Tensor& hidden, MixerContext& context) = 0;
  // Incremental decoding: forward over a chunk of prompts (positions
  // [context.start, context.start + T)) that continues from `cache` (the
  // prompts' rows of it, holding the earlier chunks) and leaves the chunk in it...
  virtual at::Tensor prefill(const at::Tensor& hidden, MixerContext& context, LayerCache& cache) = 0;
  // ...and one new token per row, hidden [B, 1, hidden_size], reading and advancing `cache`.
  virtual at::Tensor decode(const at::Tensor& hidden, DecodeContext& context, LayerCache& cache) = 0;
};

}  // namespace hybridize::model
