#pragma once
// Batches of the synthetic reasoning task for next-token training and
// teacher-forced evaluation, and the order in which a run visits its problems.
#include <ATen/ATen.h>

#include <cstdint>
#include <span>
#include <vector>

#include "data/synthetic_task.h"

namespace hybridize::train {

// B problems padded to the longest (PAD); flattened per-token tensors are [B*T].
struct SyntheticBatch {
  at::Tensor input_ids;        // [B, T] int64: the text without its last token
  at::Tensor targets;          // [B*T] int64: the next token at every position
  at::Tensor completion_mask;  // [B*T] bool: targets in the completion (trace, '#', answer, EOS)
  at::Tensor answer_mask;      // [B*T] bool: targets of the queried value the trace ends with, the answer and EOS
  int64_t tokens = 0;          // real (unpadded) input tokens
};

SyntheticBatch make_batch(std::span<const data::synthetic::Problem> problems);

// Which problem of `count` the run's `sample`-th draw is: every epoch visits
// all problems once, in an order fixed by `seed` and the epoch alone, so a
// resumed run continues exactly where it stopped.
std::size_t sample_index(uint64_t seed, std::size_t count, int64_t sample);

}  // namespace hybridize::train
