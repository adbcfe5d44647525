#pragma once
#include <memory>

#include "io/hf_config.h"
#include "model/layout.h"
#include "model/mixer.h"
#include "model/mlp.h"
#include "model/rms_norm.h"

namespace hybridize::model {

// One pre-norm decoder layer: h += mixer(norm1(h)); h += mlp(norm2(h)).
// The mixer is attention ("self_attn") or Mamba ("mixer", Apriel-H's name);
// an identity layer has none (and no norm1): h += mlp(norm2(h)).
class DecoderLayerImpl : public torch::nn::Module {
 public:
  DecoderLayerImpl(const io::TransformerConfig& config, int64_t layer, MixerKind kind,
                   const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& hidden, MixerContext& context);
  // The two residual halves of forward: h + mixer(norm1(h)) (h itself for
  // identity layers), and h + mlp(norm2(h)).
  at::Tensor mixer_block(const at::Tensor& hidden, MixerContext& context);
  at::Tensor mlp_block(const at::Tensor& hidden);
  // The cache-aware paths of incremental decoding (see SequenceMixer).
  at::Tensor prefill(const at::Tensor& hidden, MixerContext& context, LayerCache& cache);
  at::Tensor decode(const at::Tensor& hidden, DecodeContext& context, LayerCache& cache);

  const MixerKind kind;
  RMSNorm input_layernorm{nullptr};
  std::shared_ptr<SequenceMixer> mixer;  // null for identity
  RMSNorm post_attention_layernorm{nullptr};
  MLP mlp{nullptr};
};
TORCH_MODULE(DecoderLayer);

}  // namespace hybridize::model
