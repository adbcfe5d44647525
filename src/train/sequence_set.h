#pragma once
// Token sequences as padded tensors with a mask of the next-token predictions
// that count, from the built-in synthetic reasoning task or a pre-tokenized
// corpus: what scorers measure on and what probes and distillation train on.
#include <cstdint>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "data/sequence_spec.h"

namespace hybridize::train {

// Rows of a SequenceSet on a device, cut after the last counted position
// (causal models' counted positions never see the padding after it).
struct SequenceBatch {
  at::Tensor input_ids, targets, loss_mask;
};

struct SequenceSet {
  std::string spec;          // canonical text of the data::SequenceSpec, for the store
  std::string content_hash;  // of the token ids and masks
  at::Tensor input_ids;      // [N, T] int64, padded
  at::Tensor targets;        // [N, T] int64: the next token at each position
  at::Tensor loss_mask;      // [N, T] bool: predictions that count (completion tokens of the task)
  // Which predictions count, for the commands' output: "the task's completions",
  // "the corpus's loss spans (...)", "every token (...)".
  std::string counted;
  // Synthetic task only: the prompt ids each sample starts with, and the expected answers.
  std::vector<std::vector<int64_t>> prompts;
  std::vector<std::string> answers;

  int64_t size() const { return input_ids.size(0); }
  SequenceBatch batch(int64_t begin, int64_t end, at::Device device) const;
  // The given rows, in that order (a training micro-batch).
  SequenceBatch gather(const std::vector<int64_t>& rows, at::Device device) const;
  int64_t counted_tokens() const { return loss_mask.sum().item<int64_t>(); }
};

// Throws Error naming the flag or file when the spec cannot be served
// (unknown split, corpus too small for `samples` of `seq_len`, ...).
SequenceSet load_sequences(const data::SequenceSpec& spec, int64_t vocab_size);

}  // namespace hybridize::train
