#include "model/summary.h"

namespace hybridize::model {

ParameterCounts count_parameters(CausalLMImpl& model) {
  ParameterCounts counts;
  for (const auto& item : model.named_parameters()) {
    const std::string& name = item.key();
    const int64_t n = item.value().numel();
    if (name.find("embed_tokens") != std::string::npos)
      counts.embeddings += n;
    else if (name.rfind("lm_head", 0) == 0)
      counts.lm_head += n;
    else if (name.find(".self_attn.") != std::string::npos)
      counts.attention += n;
    else if (name.find(".mixer.") != std::string::npos)
      counts.mamba += n;
    else if (name.find(".mlp.") != std::string::npos)
      counts.mlp += n;
    else
      counts.norms += n;
  }
  return counts;
}

std::vector<int64_t> parameters_per_layer(CausalLMImpl& model) {
  std::vector<int64_t> counts;
  for (auto& layer : model.model->layers) {
    int64_t n = 0;
    for (const auto& parameter : layer->parameters()) n += parameter.numel();
    counts.push_back(n);
  }
  return counts;
}

int64_t kv_cache_bytes_per_token(const io::TransformerConfig& config, const Layout& layout, at::ScalarType dtype) {
  return layout.count(MixerKind::Attention) * 2 * config.num_kv_heads * config.head_dim *
         static_cast<int64_t>(c10::elementSize(dtype));
}

int64_t ssm_state_bytes_per_sequence(const io::TransformerConfig& config, const Layout& layout, at::ScalarType dtype) {
  if (!config.ssm) return 0;
  const auto& ssm = *config.ssm;
  const int64_t per_layer =
      ssm.conv_channels() * ssm.d_conv * static_cast<int64_t>(c10::elementSize(dtype)) + ssm.d_inner * ssm.d_state * 4;
  return layout.count(MixerKind::Mamba) * per_layer;
}

}  // namespace hybridize::model
