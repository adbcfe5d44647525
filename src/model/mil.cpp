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
    fail("MIL: key 'ssm_cfg.d_inner' is ", ssm.d_inner, " but the attention's q_proj is ", q_width,
         " wide (heads x head_dim)");
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

CausalLM derive_hybrid(CausalLMImpl& source, const Layout& layout, const io::SsmConfig& ssm, uint64_t seed,
                       const Derivation& derivation) {
  if (layout.size() != source.layout.size())
    fail("layout '", layout.to_string(), "' has ", layout.size(), " layers but the model has ", source.layout.size());
  // A layer may lose its mixer or swap attention for Mamba, never gain what the source lacks.
  bool adds_mamba = false;
  for (int64_t i = 0; i < layout.size(); ++i) {
    if (layout[i] == MixerKind::Attention && source.layout[i] != MixerKind::Attention)
      fail("layer ", i, " is attention in layout '", layout.to_string(), "' but the model's layer is ",
           mixer_name(source.layout[i]));
    if (layout[i] != MixerKind::Mamba || source.layout[i] == MixerKind::Mamba) continue;
    if (source.layout[i] != MixerKind::Attention)
      fail("layer ", i, " cannot become Mamba by MIL: the source layer has no attention (",
           mixer_name(source.layout[i]), ")");
    adds_mamba = true;
  }
  auto config = source.config;
  // The source's Mamba layers were built with its own SSM settings; new ones must agree with them.
  const bool source_has_mamba = source.layout.count(MixerKind::Mamba) > 0 && source.config.ssm;
  if (source_has_mamba && adds_mamba && source.config.ssm->d_state != ssm.d_state)
    fail("derive_hybrid: the new Mamba layers' d_state ", ssm.d_state, " differs from the source's ssm_cfg.d_state ",
         source.config.ssm->d_state);
  if (layout.count(MixerKind::Mamba) > 0) config.ssm = source_has_mamba ? *source.config.ssm : ssm;
  const auto& reference = source.model->embed_tokens->weight;
  const at::Device device = reference.device();
  // Host tensors that are never written take no memory: each tensor below is
  // replaced by the source's or by a copy on the device before anything touches it.
  CausalLM student(config, layout, at::TensorOptions().dtype(derivation.dtype.value_or(reference.scalar_type())));

  torch::NoGradGuard no_grad;
  auto carried = source.named_parameters();
  for (const auto& buffer : source.named_buffers()) carried.insert(buffer.key(), buffer.value());
  auto carry = [&](const std::string& name, at::Tensor& tensor) {
    const auto* from = carried.find(name);
    if (from == nullptr) {
      if (name.find(".mixer.") == std::string::npos) fail("derive_hybrid: parameter '", name, "' has no source");
      tensor.set_data(tensor.to(device));  // a new mixer's, initialised below
      return;
    }
    if (from->sizes() != tensor.sizes()) fail("derive_hybrid: parameter '", name, "' changed shape");
    const bool share = derivation.share && derivation.share(name);
    tensor.set_data(share ? *from : from->to(tensor.scalar_type(), /*non_blocking=*/false, /*copy=*/true));
  };
  for (auto& item : student->named_parameters()) carry(item.key(), item.value());
  for (auto& item : student->named_buffers()) carry(item.key(), item.value());
  for (int64_t i = 0; i < layout.size(); ++i) {
    if (layout[i] != MixerKind::Mamba || source.layout[i] == MixerKind::Mamba) continue;
    auto& mamba = static_cast<Mamba&>(*student->model->layers[i]->mixer);
    mamba.reset_parameters(seed + static_cast<uint64_t>(i));
    mil_initialize(mamba, static_cast<const Attention&>(*source.model->layers[i]->mixer));
  }
  return student;
}

}  // namespace hybridize::model
