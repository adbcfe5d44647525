#include "search/cost_model.h"

#include <algorithm>

#include "core/error.h"
#include "model/causal_lm.h"
#include "model/summary.h"

namespace hybridize::search {

namespace {
at::ScalarType dtype_of(int64_t bytes) {
  switch (bytes) {
    case 2:
      return at::kBFloat16;
    case 4:
      return at::kFloat;
    default:
      fail("cost model: weights of ", bytes, " bytes per value are not supported (2 or 4)");
  }
}

// The model on the meta device: shapes without memory, even for 15B.
model::CausalLMImpl meta_model(const io::TransformerConfig& config, const model::Layout& layout,
                               const Workload& workload) {
  return model::CausalLMImpl(config, layout,
                             at::TensorOptions().dtype(dtype_of(workload.dtype_bytes)).device(at::kMeta));
}

DecodeStepWork step_work(const io::TransformerConfig& config, const model::Layout& layout, const Workload& workload,
                         const model::ParameterCounts& counts, int64_t batch_size) {
  const auto dtype = dtype_of(workload.dtype_bytes);
  const double batch = double(batch_size);
  const double context = double(workload.prompt_tokens) + double(workload.generated_tokens) / 2.0;
  DecodeStepWork work;
  work.bytes = double(counts.total() * workload.dtype_bytes) +
               batch * (double(model::kv_cache_bytes_per_token(config, layout, dtype)) * context +
                        2.0 * double(model::ssm_state_bytes_per_sequence(config, layout, dtype)));
  const double embedding_parameters = double(counts.embeddings);  // a lookup, not a matmul
  const double attention_layers = double(layout.count(model::MixerKind::Attention));
  work.flops = batch * (2.0 * (double(counts.total()) - embedding_parameters) +
                        attention_layers * 4.0 * context * double(config.num_heads * config.head_dim));
  return work;
}

}  // namespace

double DecodeStepWork::seconds(const HardwareRates& rates) const {
  return std::max(bytes / rates.bytes_per_second, flops / rates.flops_per_second);
}

bool DecodeStepWork::memory_bound(const HardwareRates& rates) const {
  return bytes / rates.bytes_per_second >= flops / rates.flops_per_second;
}

DecodeStepWork decode_step_work(const io::TransformerConfig& config, const model::Layout& layout,
                                const Workload& workload, int64_t batch) {
  auto meta = meta_model(config, layout, workload);
  return step_work(config, layout, workload, model::count_parameters(meta), batch);
}

LayoutCost predict_cost(const io::TransformerConfig& config, const model::Layout& layout, const Workload& workload,
                        const HardwareRates& rates) {
  const auto dtype = dtype_of(workload.dtype_bytes);
  auto meta = meta_model(config, layout, workload);
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

  const auto work = step_work(config, layout, workload, counts, cost.max_batch);
  cost.memory_bound = work.memory_bound(rates);
  cost.step_seconds = work.seconds(rates);
  cost.decode_tokens_per_second = double(cost.max_batch) / cost.step_seconds;
  return cost;
}

}  // namespace hybridize::search
