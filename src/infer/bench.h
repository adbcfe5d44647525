#pragma once
// Generation throughput of a teacher and its hybrid layouts, measured side by
// side in one process with the same prompts, so the ratios compare like with like.
#include <cstdint>
#include <string>
#include <vector>

#include "infer/generate.h"
#include "io/hf_config.h"
#include "model/causal_lm.h"

namespace hybridize::infer {

struct BenchSettings {
  int64_t prompt_length = 0;
  int64_t generated_length = 0;
  int64_t batch = 0;          // 0: the largest batch max_batch_for_memory allows
  int64_t memory_budget = 0;  // bytes, for batch 0
  int64_t max_batch = 0;      // for batch 0: at most this many sequences (0: no cap), as a server caps its batch
  int64_t waves = 2;          // requests served: this many times the batch...
  int64_t requests = 0;       // ...or this many (0: by waves); all of the same lengths
  int64_t prefill_tokens = kDefaultPrefillTokens;  // prompt tokens a prefill forward takes at most
  uint64_t seed = 0;                               // prompts' random tokens and the Mamba mixers' random weights
  bool cuda_graphs = true;                         // decode from CUDA graphs on a CUDA device
  bool also_eager = false;  // with graphs on a CUDA device, also time eager decoding of the same prompts
};

// One layout's figures: the seam for storing results (src/store).
struct BenchResult {
  std::string layout;
  int64_t attention_layers = 0, mamba_layers = 0;
  int64_t batch = 0, prompt_length = 0, generated_length = 0;
  int64_t requests = 0;     // served at `batch` at once, a freed row taking the next
  double wall_seconds = 0;  // serving them all: prefill, decode and capture
  double prefill_seconds = 0, decode_seconds = 0;
  int64_t decode_steps = 0;                   // steps in decode_seconds
  double capture_seconds = 0;                 // CUDA graphs: the first decode step, which captured them
  double eager_decode_tokens_per_second = 0;  // also_eager: decode tokens/s without graphs (else 0)
  double prefill_tokens_per_second = 0;       // prompt tokens through prefill
  double decode_tokens_per_second = 0;        // tokens of the decode steps (all but each sequence's first)
  double total_tokens_per_second = 0;         // generated tokens over wall time: end-to-end throughput
  double prefill_share = 0;                   // prefill_seconds over wall_seconds
  int64_t weight_bytes = 0;
  int64_t workspace_bytes = 0;           // the prefill workspace (infer/memory_budget.h)
  int64_t state_bytes_per_sequence = 0;  // KV cache + SSM state at prompt + generated length
  double speedup = 1;                    // total_tokens_per_second over the teacher's (the first result)
};

// Fills every weight with N(0, 0.02) draws on its own device (norms 1): for
// measuring speed, which does not depend on the values, without a checkpoint
// or the CPU time of train::initialize_weights' reproducible draws.
void fill_random_weights_for_speed(model::CausalLMImpl& model);

// `count` Mamba layers spread evenly over `num_layers` (layer floor((2i+1) n / 2k)), the rest attention.
model::Layout evenly_spaced_mamba_layout(int64_t num_layers, int64_t count);

// Measures `teacher`, then each layout built from it: parameters of the same
// name share the teacher's tensors (no copy), new Mamba mixers get random
// weights (`ssm` sizes them; speed does not depend on their values). Each
// layout serves `requests` random prompts (EOS ignored: every request runs its
// full length) at its batch, after a short warm-up. The first result is the teacher's.
std::vector<BenchResult> run_bench(model::CausalLMImpl& teacher, const std::vector<model::Layout>& layouts,
                                   const io::SsmConfig& ssm, const BenchSettings& settings);

}  // namespace hybridize::infer
