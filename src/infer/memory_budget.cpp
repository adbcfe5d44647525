#include "infer/memory_budget.h"

#include <algorithm>

#include "core/error.h"
#include "infer/generate.h"
#include "model/causal_lm.h"
#include "model/inference_state.h"

#ifdef HYBRIDIZE_HAVE_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace hybridize::infer {

namespace {

int64_t weight_bytes(const io::TransformerConfig& config, const model::Layout& layout, at::ScalarType dtype) {
  // A model on the meta device has every parameter's shape and dtype and costs nothing.
  model::CausalLM described(config, layout, at::TensorOptions().dtype(dtype).device(at::kMeta));
  int64_t bytes = 0;
  for (const auto& parameter : described->parameters())
    bytes += parameter.numel() * static_cast<int64_t>(parameter.element_size());
  return bytes;
}

// One token's residual stream, its normed copy and the widest transient of a layer.
int64_t activation_bytes_per_token(const io::TransformerConfig& config, const model::Layout& layout,
                                   at::ScalarType dtype) {
  const int64_t element = static_cast<int64_t>(c10::elementSize(dtype));
  int64_t widest = 3 * config.intermediate_size * element;
  if (layout.count(model::MixerKind::Attention) > 0)
    widest = std::max(widest, (2 * config.num_heads + 2 * config.num_kv_heads) * config.head_dim * element);
  if (layout.count(model::MixerKind::Mamba) > 0) {
    const auto& ssm = *config.ssm;
    const int64_t in_proj_rows = 2 * ssm.d_inner + 2 * ssm.d_xb + ssm.dt_rank;
    widest = std::max(widest, (in_proj_rows + 3 * ssm.d_inner) * element + 2 * ssm.d_inner * 4);
  }
  return 2 * config.hidden_size * element + widest;
}

// A row's last-position logits and the fp32/int64 buffers sampling sorts them in.
int64_t sampling_bytes_per_row(const io::TransformerConfig& config, at::ScalarType dtype) {
  return config.vocab_size * (static_cast<int64_t>(c10::elementSize(dtype)) + 16);
}

}  // namespace

MemoryEstimate estimate_memory(const io::TransformerConfig& config, const model::Layout& layout, int64_t length,
                               at::ScalarType dtype, int64_t prefill_tokens) {
  if (length < 1) fail("memory estimate: length must be at least 1 token, got ", length);
  if (prefill_tokens < 1) fail("memory estimate: prefill tokens must be at least 1, got ", prefill_tokens);
  if (layout.count(model::MixerKind::Mamba) > 0 && !config.ssm)
    fail("memory estimate: layout '", layout.to_string(), "' has Mamba layers but the config has no SSM settings");
  const int64_t per_token = activation_bytes_per_token(config, layout, dtype);
  const int64_t sampling = sampling_bytes_per_row(config, dtype);
  MemoryEstimate estimate;
  estimate.weight_bytes = weight_bytes(config, layout, dtype);
  // A forward takes at most kMaxPrefillRows prompts, none longer than `length`.
  const int64_t workspace_tokens = std::min(prefill_tokens, kMaxPrefillRows * length);
  estimate.workspace_bytes = workspace_tokens * per_token + std::min(prefill_tokens, kMaxPrefillRows) * sampling;
  estimate.state_bytes_per_sequence = model::inference_state_bytes_per_sequence(config, layout, length, dtype);
  estimate.decode_bytes_per_sequence = per_token + sampling;
  return estimate;
}

int64_t max_batch_for_memory(const io::TransformerConfig& config, const model::Layout& layout, int64_t length,
                             at::ScalarType dtype, int64_t prefill_tokens, int64_t budget_bytes) {
  const auto estimate = estimate_memory(config, layout, length, dtype, prefill_tokens);
  const int64_t fixed = estimate.weight_bytes + estimate.workspace_bytes;
  if (budget_bytes <= fixed) return 0;
  return (budget_bytes - fixed) / estimate.bytes_per_sequence();
}

void release_cached_memory(const at::Device& device) {
#ifdef HYBRIDIZE_HAVE_CUDA
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::emptyCache();
#else
  (void)device;
#endif
}

}  // namespace hybridize::infer
