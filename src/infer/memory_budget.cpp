#include "infer/memory_budget.h"

#include <algorithm>

#include "core/error.h"
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

int64_t activation_bytes(const io::TransformerConfig& config, const model::Layout& layout, int64_t length,
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
  const int64_t per_token = 2 * config.hidden_size * element + widest;
  return length * per_token + config.vocab_size * (element + 16);
}

}  // namespace

MemoryEstimate estimate_memory(const io::TransformerConfig& config, const model::Layout& layout, int64_t length,
                               at::ScalarType dtype) {
  if (length < 1) fail("memory estimate: length must be at least 1 token, got ", length);
  if (layout.count(model::MixerKind::Mamba) > 0 && !config.ssm)
    fail("memory estimate: layout '", layout.to_string(), "' has Mamba layers but the config has no SSM settings");
  MemoryEstimate estimate;
  estimate.weight_bytes = weight_bytes(config, layout, dtype);
  estimate.state_bytes_per_sequence = model::inference_state_bytes_per_sequence(config, layout, length, dtype);
  estimate.activation_bytes_per_sequence = activation_bytes(config, layout, length, dtype);
  return estimate;
}

int64_t max_batch_for_memory(const io::TransformerConfig& config, const model::Layout& layout, int64_t length,
                             at::ScalarType dtype, int64_t budget_bytes) {
  const auto estimate = estimate_memory(config, layout, length, dtype);
  if (budget_bytes <= estimate.weight_bytes) return 0;
  return (budget_bytes - estimate.weight_bytes) / estimate.bytes_per_sequence();
}

void release_cached_memory(const at::Device& device) {
#ifdef HYBRIDIZE_HAVE_CUDA
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::emptyCache();
#else
  (void)device;
#endif
}

}  // namespace hybridize::infer
