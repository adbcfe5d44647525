#include "model/decoder_layer.h"

#include "core/error.h"
#include "model/attention.h"
#include "model/mamba.h"

namespace hybridize::model {

DecoderLayerImpl::DecoderLayerImpl(const io::TransformerConfig& config, int64_t layer, MixerKind kind_,
                                   const at::TensorOptions& options)
    : kind(kind_) {
  if (kind != MixerKind::Identity)
    input_layernorm = register_module("input_layernorm", RMSNorm(config.hidden_size, config.rms_norm_eps, options));
  // Registered under the checkpoints' names so parameters load by name.
  if (kind == MixerKind::Attention) {
    mixer =
        register_module("self_attn", std::make_shared<Attention>(config, config.attention_windows.at(layer), options));
  } else if (kind == MixerKind::Mamba) {
    if (!config.ssm) fail("layer ", layer, " is Mamba but the model config has no SSM settings (ssm_cfg)");
    mixer = register_module("mixer", std::make_shared<Mamba>(config, *config.ssm, options));
  }
  post_attention_layernorm =
      register_module("post_attention_layernorm", RMSNorm(config.hidden_size, config.rms_norm_eps, options));
  mlp = register_module("mlp", MLP(config, options));
}

at::Tensor DecoderLayerImpl::forward(const at::Tensor& hidden, MixerContext& context) {
  return mlp_block(mixer_block(hidden, context));
}

at::Tensor DecoderLayerImpl::mixer_block(const at::Tensor& hidden, MixerContext& context) {
  return mixer ? hidden + mixer->forward(input_layernorm(hidden), context) : hidden;
}

at::Tensor DecoderLayerImpl::mlp_block(const at::Tensor& hidden) {
  return hidden + mlp(post_attention_layernorm(hidden));
}

at::Tensor DecoderLayerImpl::prefill(const at::Tensor& hidden, MixerContext& context, LayerCache& cache) {
  return mlp_block(mixer ? hidden + mixer->prefill(input_layernorm(hidden), context, cache) : hidden);
}

at::Tensor DecoderLayerImpl::decode(const at::Tensor& hidden, DecodeContext& context, LayerCache& cache) {
  return mlp_block(mixer ? hidden + mixer->decode(input_layernorm(hidden), context, cache) : hidden);
}

}  // namespace hybridize::model
