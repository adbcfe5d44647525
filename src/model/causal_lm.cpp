#include "model/causal_lm.h"

#include "core/error.h"
#include "model/layer_checkpoint.h"

namespace hybridize::model {

DecoderStackImpl::DecoderStackImpl(const io::TransformerConfig& config, const Layout& layout,
                                   const at::TensorOptions& options) {
  embed_tokens = register_module("embed_tokens", Embedding(config.vocab_size, config.hidden_size, options));
  auto list = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.num_layers; ++i) {
    layers.push_back(DecoderLayer(config, i, layout[i], options));
    list->push_back(layers.back());
  }
  norm = register_module("norm", RMSNorm(config.hidden_size, config.rms_norm_eps, options));
  rotary_emb = register_module("rotary_emb", RotaryEmbedding(config, options.device()));
}

at::Tensor DecoderStackImpl::forward(const at::Tensor& input_ids) {
  auto hidden = embed(input_ids);
  auto mixer_context = context(input_ids.size(1), hidden.scalar_type(), input_ids.device());
  return norm(run_layers(hidden, 0, int64_t(layers.size()), mixer_context));
}

at::Tensor DecoderStackImpl::embed(const at::Tensor& input_ids) { return embed_tokens(input_ids); }

MixerContext DecoderStackImpl::context(int64_t length, at::ScalarType dtype, at::Device device, int64_t start) {
  const auto positions = at::arange(start, start + length, at::TensorOptions().dtype(at::kLong).device(device));
  auto [cos, sin] = rotary_emb(positions, dtype);
  return MixerContext(cos, sin, length, device, start);
}

at::Tensor DecoderStackImpl::run_layers(at::Tensor hidden, int64_t begin, int64_t end, MixerContext& context) {
  if (begin < 0 || end > int64_t(layers.size()) || begin > end)
    fail("layer range [", begin, ", ", end, ") is outside the model's ", layers.size(), " layers");
  for (int64_t i = begin; i < end; ++i)
    hidden = checkpoint_layers ? checkpointed_layer_forward(layers[i], hidden, context) : layers[i](hidden, context);
  return hidden;
}

CausalLMImpl::CausalLMImpl(io::TransformerConfig config_, Layout layout_, const at::TensorOptions& options)
    : config(std::move(config_)), layout(std::move(layout_)) {
  if (layout.size() != config.num_layers)
    fail("layout '", layout.to_string(), "' has ", layout.size(), " layers but the model has ", config.num_layers);
  model = register_module("model", DecoderStack(config, layout, options));
  if (!config.tie_word_embeddings)
    lm_head = register_module("lm_head", Linear(config.hidden_size, config.vocab_size, false, options));
}

at::Tensor CausalLMImpl::forward(const at::Tensor& input_ids) {
  if (input_ids.dim() != 2) fail("input_ids must be [batch, length], got ", input_ids.dim(), " dimensions");
  return vocabulary_logits(model(input_ids));
}

at::Tensor CausalLMImpl::vocabulary_logits(const at::Tensor& hidden) {
  return lm_head ? lm_head(hidden) : at::linear(hidden, model->embed_tokens->weight);
}

at::Tensor CausalLMImpl::prefill(const at::Tensor& input_ids, InferenceState& state, int64_t first_row) {
  if (input_ids.dim() != 2) fail("prefill: input_ids must be [rows, length], got ", input_ids.dim(), " dimensions");
  const int64_t rows = input_ids.size(0), length = input_ids.size(1);
  const int64_t start = state.note_prefill(first_row, rows, length);
  auto& stack = *model;
  auto hidden = stack.embed(input_ids);
  auto context = stack.context(length, hidden.scalar_type(), input_ids.device(), start);
  for (std::size_t i = 0; i < stack.layers.size(); ++i) {
    auto cache = state.layers[i].rows(first_row, rows);
    hidden = stack.layers[i]->prefill(hidden, context, cache);
  }
  // Only the last position's logits: the vocabulary projection of a whole prompt is the largest activation.
  return vocabulary_logits(stack.norm(hidden.select(1, length - 1)));
}

at::Tensor CausalLMImpl::decode_step(const at::Tensor& input_ids, InferenceState& state) {
  check_decode_step(input_ids, state);
  auto logits = decode_step_on_device(input_ids, state, state.key_extent() + 1);
  state.note_decode_step();
  return logits;
}

void CausalLMImpl::check_decode_step(const at::Tensor& input_ids, const InferenceState& state) const {
  if (input_ids.dim() != 2 || input_ids.size(0) != state.batch() || input_ids.size(1) != 1)
    fail("decode step: input_ids must be [", state.batch(), ", 1], got ", input_ids.sizes());
  if (!state.is_prefilled()) fail("decode step: every row holding a sequence must be prefilled first");
  if (state.key_extent() >= state.max_length())
    fail("decode step: a row holds the state's max_length of ", state.max_length(), " tokens");
}

at::Tensor CausalLMImpl::decode_step_on_device(const at::Tensor& input_ids, InferenceState& state, int64_t key_extent) {
  auto& stack = *model;
  auto hidden = stack.embed(input_ids);
  const auto positions = state.lengths();
  auto [cos, sin] = stack.rotary_emb(positions.unsqueeze(1), hidden.scalar_type());
  DecodeContext context(positions, cos, sin, key_extent);
  for (std::size_t i = 0; i < stack.layers.size(); ++i)
    hidden = stack.layers[i]->decode(hidden, context, state.layers[i]);
  state.advance_lengths();
  return vocabulary_logits(stack.norm(hidden.select(1, 0)));
}

}  // namespace hybridize::model
