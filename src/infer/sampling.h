#pragma once
// Choosing the next token from logits: greedy, temperature, nucleus (top-p),
// drawn from a seeded generator on the logits' device so runs repeat.
#include <ATen/ATen.h>

#include <cstdint>

namespace hybridize::infer {

// A generator of `device`'s type seeded with `seed`, independent of the global one.
at::Generator make_generator(uint64_t seed, at::Device device);

// Next token per row, [batch] int64, from logits [batch, vocab]. temperature 0
// takes the argmax; otherwise a draw from softmax(logits / temperature) kept to
// the most likely tokens whose probabilities, before each, sum below top_p
// (the first always stays, so a tiny top_p is greedy). No host sync.
at::Tensor sample_next_tokens(const at::Tensor& logits, double temperature, double top_p, at::Generator& generator);

}  // namespace hybridize::infer
