#include "model/decoder_layer.h"

#include "model/attention.h"

namespace hybridize::model {

DecoderLayerImpl::DecoderLayerImpl(const io::TransformerConfig& config, int64_t layer, MixerKind kind_,
                                   const at::TensorOptions& options)
    : kind(kind_) {
  if (kind == MixerKind::Attention) {
    input_layernorm = register_module("input_layernorm", RMSNorm(config.hidden_size, config.rms_norm_eps, options));
    // Registered under HF's name so parameter names match the checkpoint's.
    mixer = register_module("self_attn", std::make_shared<Attention>(config, config.attention_windows.at(layer), options));
  }
  post_attention_layernorm =
      register_module("post_attention_layernorm", RMSNorm(config.hidden_size, config.rms_norm_eps, options));
  mlp = register_module("mlp", MLP(config, options));
}

at::Tensor DecoderLayerImpl::forward(const at::Tensor& hidden, MixerContext& context) {
  auto h = hidden;
  if (mixer) h = h + mixer->forward(input_layernorm(h), context);
  return h + mlp(post_attention_layernorm(h));
}

}  // namespace hybridize::model
