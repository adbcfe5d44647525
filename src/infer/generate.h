#pragma once
// Batched generation on the model's incremental-decoding state: prompts of any
// lengths prefilled into their own rows, then one decode step for all rows at a
// time until each sequence hits a stop token or its token budget.
#include <cstdint>
#include <vector>

#include "model/causal_lm.h"

namespace hybridize::infer {

struct GenerationOptions {
  int64_t max_new_tokens = 0;
  std::vector<int64_t> stop_tokens;  // a sequence ends after emitting one of these
  double temperature = 0;            // 0 = greedy
  double top_p = 1;                  // nucleus sampling; 1 = the whole distribution
  uint64_t seed = 0;                 // same seed, same draws
  int64_t pad_id = 0;                // fed to sequences that stopped while others go on
  bool cuda_graphs = true;           // on a CUDA device, replay decode steps from CUDA graphs (infer/decode_graphs.h)
};

// Wall time of the two phases, synchronised with the device at their edges only.
struct GenerationTimings {
  double prefill_seconds = 0;  // every prompt's prefill and the first token
  double decode_seconds = 0;   // the decode steps that follow
  int64_t decode_steps = 0;
  // With CUDA graphs, the first decode step, which captures them; it is in
  // neither decode_seconds nor decode_steps.
  double capture_seconds = 0;
};

// Each prompt's generated tokens, in the prompts' order: at most
// max_new_tokens, ending with the stop token when one was emitted. A batch
// gives each sequence what generating it alone gives. Throws Error for empty
// prompts, token ids outside the vocabulary, or impossible options.
std::vector<std::vector<int64_t>> generate(model::CausalLMImpl& model, const std::vector<std::vector<int64_t>>& prompts,
                                           const GenerationOptions& options, GenerationTimings* timings = nullptr);

}  // namespace hybridize::infer
