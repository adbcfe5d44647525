#pragma once
// Choosing the next token from logits: greedy, temperature, nucleus (top-p).
// A draw is the Gumbel-max trick over noise that is a hash of the row's key
// and the vocabulary id (counter-based, as JAX's random keys): a sequence's
// tokens depend on its own stream alone, never on the batch it runs in or on
// the device, so a sampled evaluation repeats exactly, also when it resumes.
#include <ATen/ATen.h>

#include <cstdint>

namespace hybridize::infer {

// A request's draw stream in [0, 2^31) from the run's seed and the request's own seed.
int64_t draw_stream(uint64_t seed, uint64_t request_seed);

// The keys of the draws of token `positions` [rows] of streams `streams` [rows] (int64, on one device).
at::Tensor draw_keys(const at::Tensor& streams, const at::Tensor& positions);

// Next token per row, [rows] int64, from logits [rows, vocab]. temperature 0
// takes the argmax; otherwise a draw from softmax(logits / temperature) kept to
// the most likely tokens whose probabilities, before each, sum below top_p
// (the first always stays, so a tiny top_p is greedy), made with `keys`
// (draw_keys). No host sync.
at::Tensor sample_next_tokens(const at::Tensor& logits, double temperature, double top_p, const at::Tensor& keys);

}  // namespace hybridize::infer
