#pragma once
// MMR (MIL-Mamba-replacement) probes: replace one layer's attention by a Mamba
// mixer MIL-initialised from it, train only that mixer for a few steps to
// match the frozen teacher, and measure how close it gets. A layer whose
// attention a Mamba mixer imitates well is a good candidate for replacement.
// The mixer trains in fp32, under bf16 autocast when the teacher is bf16 on CUDA.
#include <cstdint>
#include <vector>

#include "model/causal_lm.h"
#include "search/layer_scores.h"
#include "train/losses.h"
#include "train/sequence_set.h"

namespace hybridize::search {

struct MmrOptions {
  int64_t steps = 100;  // a short probe, not a distillation
  int64_t batch_size = 8;
  double learning_rate = 1e-3;
  int64_t warmup_steps = 10;
  train::Divergence divergence = train::Divergence::ReverseKL;  // Apriel-H1's distillation loss
  int64_t d_state = 16;
  uint64_t seed = 0;
  // Teacher activations (the stream entering the layer and the final hidden
  // states) of each training batch are kept for later epochs up to this size,
  // instead of rerunning the teacher.
  int64_t activation_cache_bytes = int64_t(2) << 30;
  int64_t logit_chunk_tokens = 1024;

  void validate() const;  // throws Error naming the flag (--mmr-steps, --mmr-warmup, ...)
};

struct MmrProbeResult {
  std::vector<double> curve;  // training loss per step
  SampleValues held_out;      // per held-out sample: distill_loss, kl, nll_increase
};

// Trains the probe of `layer` on `train_set` and measures it on `eval_set`.
// The teacher is not modified.
MmrProbeResult run_mmr_probe(model::CausalLMImpl& teacher, int64_t layer, const train::SequenceSet& train_set,
                             const train::SequenceSet& eval_set, const MmrOptions& options);

}  // namespace hybridize::search
