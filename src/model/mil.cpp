#include "model/mil.h"

#include "core/error.h"
#include "core/log.h"

namespace hybridize::model {

io::SsmConfig mil_ssm_config(const io::TransformerConfig& config, int64_t d_state) {
  io::SsmConfig ssm;
  ssm.d_state = d_state;
  ssm.d_inner = config.num_heads * config.head_dim;
  ssm.d_xb = config.num_kv_heads * config.head_dim;
  ssm.dt_rank = (config.hidden_size + 15) / 16;  // Mamba's "auto"
  io::validate_ssm_config(ssm, "MIL settings for this model");
  return ssm;
}

void mil_initialize(Mamba& mamba, const Attention& attention) {
  const auto& ssm = mamba.ssm;
  const int64_t q_width = attention.num_heads * attention.head_dim;
  const int64_t kv_width = attention.num_kv_heads * attention.head_dim;
  if (ssm.d_inner != q_width)
    fail("MIL: key 'ssm_cfg.d_inner' is ", ssm.d_inner, " but the attention's q_proj is ", q_width, " wide (heads x head_dim)");
  if (ssm.d_xb != kv_width)
    fail("MIL: key 'ssm_cfg.d_xb' is ", ssm.d_xb, " but the attention's k_proj/v_proj are ", kv_width,
         " wide (kv_heads x head_dim)");
  if (attention.q_proj->bias.defined() || attention.o_proj->bias.defined())
    log_warning("MIL: the attention's projection biases have no place in the Mamba mixer and are dropped");
  torch::NoGradGuard no_grad;
  auto rows = [&](int64_t start, int64_t count) { return mamba.in_proj->weight.narrow(0, start, count); };
  rows(ssm.d_inner, ssm.d_xb).copy_(attention.v_proj->weight);
  rows(ssm.d_inner + ssm.d_xb, ssm.d_xb).copy_(attention.k_proj->weight);
  rows(ssm.d_inner + 2 * ssm.d_xb, ssm.d_inner).copy_(attention.q_proj->weight);
  mamba.out_proj->weight.copy_(attention.o_proj->weight);
}

CausalLM derive_hybrid(CausalLMImpl& source, const Layout& layout, const io::SsmConfig& ssm, uint64_t seed) {
  if (layout.size() != source.layout.size())
    fail("layout '", layout.to_string(), "' has ", layout.size(), " layers but the model has ", source.layout.size());
  auto config = source.config;
  if (layout.count(MixerKind::Mamba) > 0) config.ssm = ssm;
  const auto reference = source.model->embed_tokens->weight;
  CausalLM student(config, layout, at::TensorOptions().dtype(reference.scalar_type()).device(reference.device()));

  torch::NoGradGuard no_grad;
  const auto source_parameters = source.named_parameters();
  for (int64_t i = 0; i < layout.size(); ++i) {
    auto& layer = *student->model->layers[i];
    if (layout[i] != MixerKind::Mamba || source.layout[i] == MixerKind::Mamba) continue;
    auto& mamba = static_cast<Mamba&>(*layer.mixer);
    mamba.reset_parameters(seed + static_cast<uint64_t>(i));
    if (source.layout[i] != MixerKind::Attention)
      fail("layer ", i, " cannot become Mamba by MIL: the source layer has no attention (", mixer_name(source.layout[i]), ")");
    mil_initialize(mamba, static_cast<const Attention&>(*source.model->layers[i]->mixer));
  }
  // Everything else carries over by name; the MIL-initialised mixers have no source counterpart.
  for (auto& item : student->named_parameters()) {
    const auto* from = source_parameters.find(item.key());
    if (from != nullptr) {
      if (from->sizes() != item.value().sizes()) fail("derive_hybrid: parameter '", item.key(), "' changed shape");
      item.value().copy_(*from);
    } else if (item.key().find(".mixer.") == std::string::npos) {
      fail("derive_hybrid: parameter '", item.key(), "' has no source (layout change from an identity layer?)");
    }
  }
  return student;
}

}  // namespace hybridize::model
