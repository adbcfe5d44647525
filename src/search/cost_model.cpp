#include "search/cost_model.h"

#include <algorithm>

#include "core/error.h"
#include "model/causal_lm.h"
#include "model/summary.h"

namespace hybridize::search {

namespace {
at::ScalarType dtype_of(int64_t bytes) {
  switch (bytes) {
    case 2: return at::kBFloat16;
    case 4: return at::kFloat;
    default: fail("cost model: weights of ", bytes, " bytes per value are not supported (2 or 4)");
  }
}
}  // namespace

LayoutCost predict_cost(const io::TransformerConfig& config, const model::Layout& layout, const Workload& workload,
                        const HardwareRates& rates) {
  const auto dtype = dtype_of(workload.dtype_bytes);
  // A model on the meta device: shapes without memory, even for 15B.
  model::CausalLMImpl meta(config, layout, at::TensorOptions().dtype(dtype).device(at::kMeta));
  const auto counts = model::count_parameters(meta);
  LayoutCost cost;
  cost.parameters = counts.total();
  cost.weight_bytes = cost.parameters * workload.dtype_bytes;
  cost.kv_bytes_per_token = model::kv_cache_bytes_per_token(config, layout, dtype);
  cost.state_bytes_per_sequence = model::ssm_state_bytes_per_sequence(config, layout, dtype);
  const int64_t length = workload.prompt_tokens + workload.generated_tokens;
  cost.memory_per_sequence = cost.kv_bytes_per_token * length + cost.state_bytes_per_sequence;
  const double usable = double(rates.memory_bytes) * (1.0 - rates.memory_reserve) - double(cost.weight_bytes);
  if (usable <= 0) return cost;  // the weights alone do not fit
  cost.max_batch = std::max<int64_t>(0, int64_t(usable / double(std::max<int64_t>(1, cost.memory_per_sequence))));
  if (cost.max_batch == 0) return cost;

  const double batch = double(cost.max_batch);
  const double context = double(workload.prompt_tokens) + double(workload.generated_tokens) / 2.0;
  // Per step: weights once; per sequence the KV cache up to the mean context and
  // the recurrent state read and written.
  const double bytes = double(cost.weight_bytes) +
                       batch * (double(cost.kv_bytes_per_token) * context + 2.0 * double(cost.state_bytes_per_sequence));
  const double embedding_parameters = double(counts.embeddings);  // a lookup, not a matmul
  const double attention_layers = double(layout.count(model::MixerKind::Attention));
  const double flops = batch * (2.0 * (double(cost.parameters) - embedding_parameters) +
                                attention_layers * 4.0 * context * double(config.num_heads * config.head_dim));
  const double memory_seconds = bytes / rates.bytes_per_second, compute_seconds = flops / rates.flops_per_second;
  cost.memory_bound = memory_seconds >= compute_seconds;
  cost.step_seconds = std::max(memory_seconds, compute_seconds);
  cost.decode_tokens_per_second = batch / cost.step_seconds;
  return cost;
}

}  // namespace hybridize::search
