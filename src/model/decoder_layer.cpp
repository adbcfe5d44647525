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
    mixer = register_module("self_attn", std::make_shared<Attention>(config, config.attention_windows.at(layer), options));
  } else if (kind == MixerKind::Mamba) {
    if (!config.ssm) fail("layer ", layer, " is Mamba but the model config has no SSM settings (ssm_cfg)");
    mixer = register_module("mixer", std::make_shared<Mamba>(config, *config.ssm, options));
  }
  post_attention_layernorm =
      register_module("post_attention_layernorm", RMSNorm(config.hidden_size, config.rms_norm_eps, options));
  mlp = register_module("mlp", MLP(config, options));
}

template <class MixerCall>
at::Tensor DecoderLayerImpl::residual_block(const at::Tensor& hidden, MixerCall&& mix) {
  auto h = hidden;
  if (mixer) h = h + mix(input_layernorm(h));
  return h + mlp(post_attention_layernorm(h));
}

at::Tensor DecoderLayerImpl::forward(const at::Tensor& hidden, MixerContext& context) {
  return residual_block(hidden, [&](const at::Tensor& x) { return mixer->forward(x, context); });
}

at::Tensor DecoderLayerImpl::prefill(const at::Tensor& hidden, MixerContext& context, LayerCache& cache) {
  return residual_block(hidden, [&](const at::Tensor& x) { return mixer->prefill(x, context, cache); });
}

at::Tensor DecoderLayerImpl::decode(const at::Tensor& hidden, DecodeContext& context, LayerCache& cache) {
  return residual_block(hidden, [&](const at::Tensor& x) { return mixer->decode(x, context, cache); });
}

}  // namespace hybridize::model
