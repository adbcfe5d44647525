#pragma once
// How a training loop (the teacher's, a distillation stage's) is run: where it
// checkpoints and resumes, when it stops, and whom it tells about each step.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>

#include <ATen/ATen.h>

#include "train/optimizer.h"

namespace hybridize::train {

struct StepProgress {
  int64_t step;    // steps finished
  double loss;     // this step's mean loss over its micro-batches
  int64_t tokens;  // tokens the loss covered this step
  bool applied;    // false: skipped for a non-finite loss or gradient
};

struct TrainingRun {
  std::filesystem::path checkpoint_dir;  // resumed from when it holds a checkpoint
  int64_t checkpoint_every = 200;
  std::optional<int64_t> stop_after;    // end early (as if interrupted) after this step, checkpointed
  bool checkpoint_activations = false;  // recompute each layer in the backward pass: less memory, same result
  std::function<void(const StepProgress&)> on_step;
  std::function<void(int64_t first_step)> on_begin;  // after any resume, before the first step
  // Several ranks: each trains on its share of every global micro-batch (the
  // same global batch as one process), and rank 0 alone writes checkpoints.
  DataParallel parallel;
};

// One micro-batch's loss (not yet accumulated) and the tokens it covers.
struct MicroBatchLoss {
  at::Tensor loss;
  int64_t tokens = 0;
};

// The step loop both training loops share: from where `optimizer` stands
// (after any resume) to `total_steps`, or run.stop_after, each step
// accumulates the micro-batches `micro_batch(step, micro)` returns, steps,
// passes its progress to `after_step` and run.on_step, and calls
// `checkpoint(done)` every run.checkpoint_every steps and after the last.
// Returns the seconds spent in steps (checkpoints and callbacks left out).
double run_steps(Optimizer& optimizer, int64_t total_steps, int64_t accumulation, const TrainingRun& run,
                 const std::function<MicroBatchLoss(int64_t step, int64_t micro)>& micro_batch,
                 const std::function<void(const StepProgress&)>& after_step,
                 const std::function<void(int64_t done)>& checkpoint);

}  // namespace hybridize::train
