#pragma once
// Generation as a serving engine runs it: requests wait in a queue; a fixed
// number of rows (max_batch) decode together, one step for all rows at a time;
// a row whose sequence ends (a stop token or its token budget) takes the next
// request at once (continuous batching). A new request's prompt is prefilled in
// chunks of at most prefill_tokens tokens a forward (rows of one prompt length
// go through together), so prefill needs one fixed workspace, not memory per
// sequence.
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "model/causal_lm.h"

namespace hybridize::infer {

// Prompt tokens one prefill forward takes by default (vLLM's chunked-prefill budget).
inline constexpr int64_t kDefaultPrefillTokens = 8192;
// Rows one prefill forward takes at most: each returns a row of logits.
inline constexpr int64_t kMaxPrefillRows = 64;

struct GenerationOptions {
  int64_t max_new_tokens = 0;        // each request's token budget, where the request sets none
  std::vector<int64_t> stop_tokens;  // a sequence ends after emitting one of these
  double temperature = 0;            // 0 = greedy
  double top_p = 1;                  // nucleus sampling; 1 = the whole distribution
  uint64_t seed = 0;                 // with a request's own seed, picks its draws (infer/sampling.h)
  int64_t pad_id = 0;                // fed to rows that hold no sequence
  bool cuda_graphs = true;           // on a CUDA device, replay decode steps from a CUDA graph (infer/decode_graphs.h)
  int64_t max_batch = 0;             // rows decoding at once; 0: every request at once
  int64_t prefill_tokens = kDefaultPrefillTokens;  // prompt tokens a prefill forward takes at most
};

struct GenerationRequest {
  std::vector<int64_t> prompt;
  int64_t max_new_tokens = 0;    // 0: GenerationOptions::max_new_tokens
  std::optional<uint64_t> seed;  // its draws' stream beside GenerationOptions::seed; none: its index
};

// Called as each request finishes, with its index and its tokens (what serve
// returns for it), so that a long run keeps its results as they come.
using FinishedRequest = std::function<void(std::size_t request, const std::vector<int64_t>& tokens)>;

// Wall time of the phases, synchronised with the device at their edges only.
struct GenerationTimings {
  double wall_seconds = 0;     // the whole call
  double prefill_seconds = 0;  // prefill forwards and the first token of each sequence
  double decode_seconds = 0;   // decode steps
  int64_t decode_steps = 0;
  int64_t decode_tokens = 0;     // tokens decode steps made for rows holding a sequence
  int64_t generated_tokens = 0;  // every token returned
  // With CUDA graphs, the first decode step, which captures the graph; it is
  // in neither decode_seconds nor decode_steps.
  double capture_seconds = 0;
};

// Each request's generated tokens, in the requests' order: at most its token
// budget, ending with the stop token when one was emitted. Each request gets
// what generating it alone gives (greedy, or sampled with the same seeds),
// whatever runs beside it. Throws
// Error for empty prompts, token ids outside the vocabulary, a prompt longer
// than the model's context, or impossible options.
std::vector<std::vector<int64_t>> serve(model::CausalLMImpl& model, const std::vector<GenerationRequest>& requests,
                                        const GenerationOptions& options, GenerationTimings* timings = nullptr,
                                        const FinishedRequest& on_finished = {});

// serve() for prompts that all take options.max_new_tokens.
std::vector<std::vector<int64_t>> generate(model::CausalLMImpl& model, const std::vector<std::vector<int64_t>>& prompts,
                                           const GenerationOptions& options, GenerationTimings* timings = nullptr);

}  // namespace hybridize::infer
