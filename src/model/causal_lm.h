#pragma once
// A Llama-family causal language model whose layers' mixers follow a Layout.
// Parameter names are HF's ("model.layers.3.self_attn.q_proj.weight"), so a
// checkpoint loads by name.
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>

#include "io/hf_config.h"
#include "model/decoder_layer.h"
#include "model/inference_state.h"
#include "model/layout.h"
#include "model/linear.h"
#include "model/rms_norm.h"
#include "model/rotary.h"

namespace hybridize::model {

class DecoderStackImpl : public torch::nn::Module {
 public:
  DecoderStackImpl(const io::TransformerConfig& config, const Layout& layout, const at::TensorOptions& options);
  // Final-normed hidden states [B, T, hidden_size] for token ids [B, T].
  at::Tensor forward(const at::Tensor& input_ids);

  // The pieces of forward, for work that starts or stops between layers
  // (leave-one-out ablations reuse the teacher's hidden states below a layer).
  at::Tensor embed(const at::Tensor& input_ids);
  // RoPE tables and masks for positions [start, start + length) in `dtype` on `device`.
  MixerContext context(int64_t length, at::ScalarType dtype, at::Device device, int64_t start = 0);
  // Runs layers [begin, end) on the residual stream `hidden`.
  at::Tensor run_layers(at::Tensor hidden, int64_t begin, int64_t end, MixerContext& context);

  // Activation checkpointing: layers keep only their input for the backward
  // pass and run again there (model/layer_checkpoint.h), memory for compute.
  bool checkpoint_layers = false;

  Embedding embed_tokens{nullptr};
  std::vector<DecoderLayer> layers;
  RMSNorm norm{nullptr};
  RotaryEmbedding rotary_emb{nullptr};
};
TORCH_MODULE(DecoderStack);

class CausalLMImpl : public torch::nn::Module {
 public:
  // Parameters are allocated uninitialised with `options` (dtype and device;
  // a meta device describes the model without memory). Load weights next.
  CausalLMImpl(io::TransformerConfig config, Layout layout, const at::TensorOptions& options);
  // Logits [B, T, vocab] in the model's dtype for token ids [B, T].
  at::Tensor forward(const at::Tensor& input_ids);
  // Incremental decoding. prefill: a chunk of prompts, input_ids [n, T], appended
  // to rows [first_row, first_row + n) of `state`, which hold sequences of one
  // length (0 for a first chunk); a prompt may come in any number of chunks.
  // decode_step: one new token per row, input_ids [batch, 1] (rows without a
  // sequence are fed padding and left as they are). Both return the logits of
  // each row's last position, [rows, vocab], as forward() would give them.
  at::Tensor prefill(const at::Tensor& input_ids, InferenceState& state, int64_t first_row = 0);
  at::Tensor decode_step(const at::Tensor& input_ids, InferenceState& state);
  // What decode_step checks before it runs: fails naming what is wrong.
  void check_decode_step(const at::Tensor& input_ids, const InferenceState& state) const;
  // decode_step's device work alone: no checks, no host sync and no host
  // bookkeeping (the caller then calls state.note_decode_step()), so a CUDA
  // graph can capture it. The reference attention (not the flash kernel) spans
  // the cache's first `key_extent` slots, which must cover every row's keys.
  at::Tensor decode_step_on_device(const at::Tensor& input_ids, InferenceState& state, int64_t key_extent);

  const io::TransformerConfig config;
  const Layout layout;
  DecoderStack model{nullptr};
  Linear lm_head{nullptr};  // null when tied to model.embed_tokens

 private:
  at::Tensor vocabulary_logits(const at::Tensor& hidden);
};
TORCH_MODULE(CausalLM);

}  // namespace hybridize::model
