#pragma once
// Throughput and memory of a layout, predicted from the architecture alone.
// Decoding is memory-bound: each step reads every weight once for the whole
// batch, and each sequence's KV cache (attention layers, growing with context)
// and recurrent state (Mamba layers, fixed); it also does ~2 FLOPs per weight
// per token plus the attention over the context. A step takes the longer of
// bytes / bandwidth and FLOPs / FLOP rate. The two rates are calibrated from a
// measurement on the GPU (`hybridize bench`); defaults are an H100's nominal
// figures at typical efficiency.
#include <cstdint>
#include <string>

#include "io/hf_config.h"
#include "model/layout.h"

namespace hybridize::search {

struct HardwareRates {
  std::string name = "H100 SXM (nominal: 80% of 3.35 TB/s, 50% of 989 TFLOP/s)";
  double bytes_per_second = 0.8 * 3.35e12;
  double flops_per_second = 0.5 * 989e12;
  int64_t memory_bytes = int64_t(80) << 30;
  double memory_reserve = 0.1;  // kept free for activations and the allocator
};

struct Workload {
  int64_t prompt_tokens = 4096;
  int64_t generated_tokens = 4096;
  int64_t dtype_bytes = 2;  // weights and KV cache (bf16)
};

struct LayoutCost {
  int64_t parameters = 0;
  int64_t weight_bytes = 0;
  int64_t kv_bytes_per_token = 0;
  int64_t state_bytes_per_sequence = 0;  // conv window + SSM state, any length
  int64_t memory_per_sequence = 0;       // at the workload's full length
  int64_t max_batch = 0;                 // sequences that fit beside the weights
  double step_seconds = 0;               // one decode step of max_batch sequences at mean context
  double decode_tokens_per_second = 0;   // max_batch / step_seconds
  bool memory_bound = true;
};

// What one decode step of `batch` sequences at the workload's mean context
// (prompt + half the generation) moves and computes.
struct DecodeStepWork {
  double bytes = 0;  // weights once, each sequence's KV cache read, its recurrent state read and written
  double flops = 0;
  // The longer of bytes / bandwidth and FLOPs / FLOP rate.
  double seconds(const HardwareRates& rates) const;
  bool memory_bound(const HardwareRates& rates) const;
};

// `config` must carry SSM settings when `layout` has Mamba layers.
DecodeStepWork decode_step_work(const io::TransformerConfig& config, const model::Layout& layout,
                                const Workload& workload, int64_t batch);

// `config` must carry SSM settings when `layout` has Mamba layers.
LayoutCost predict_cost(const io::TransformerConfig& config, const model::Layout& layout, const Workload& workload,
                        const HardwareRates& rates);

}  // namespace hybridize::search
