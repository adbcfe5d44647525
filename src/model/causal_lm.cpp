#include "model/causal_lm.h"

#include "core/error.h"

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
  auto hidden = embed_tokens(input_ids);
  const int64_t length = input_ids.size(1);
  const auto positions = at::arange(length, at::TensorOptions().dtype(at::kLong).device(input_ids.device()));
  auto [cos, sin] = rotary_emb(positions, hidden.scalar_type());
  MixerContext context(cos, sin, length, input_ids.device());
  for (auto& layer : layers) hidden = layer(hidden, context);
  return norm(hidden);
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
  const auto hidden = model(input_ids);
  return lm_head ? lm_head(hidden) : at::linear(hidden, model->embed_tokens->weight);
}

}  // namespace hybridize::model
