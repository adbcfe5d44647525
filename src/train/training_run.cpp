#include "train/training_run.h"

#include <algorithm>
#include <chrono>

namespace hybridize::train {

double run_steps(Optimizer& optimizer, int64_t total_steps, int64_t accumulation, const TrainingRun& run,
                 const std::function<MicroBatchLoss(int64_t step, int64_t micro)>& micro_batch,
                 const std::function<void(const StepProgress&)>& after_step,
                 const std::function<void(int64_t done)>& checkpoint) {
  const int64_t end = std::min(total_steps, run.stop_after.value_or(total_steps));
  if (run.on_begin) run.on_begin(optimizer.steps_taken());
  double seconds = 0;
  while (optimizer.steps_taken() < end) {
    const auto began = std::chrono::steady_clock::now();
    const int64_t step = optimizer.steps_taken();
    double loss_sum = 0;
    int64_t tokens = 0;
    for (int64_t micro = 0; micro < accumulation; ++micro) {
      const auto part = micro_batch(step, micro);
      loss_sum += optimizer.accumulate(part.loss);
      tokens += part.tokens;
    }
    const auto report = optimizer.step();  // an update still queued on the device is waited for by the next step
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    const StepProgress progress{optimizer.steps_taken(), loss_sum / double(accumulation), tokens, report.applied};
    if (after_step) after_step(progress);
    if (run.on_step) run.on_step(progress);
    if (progress.step % run.checkpoint_every == 0 || progress.step == end) checkpoint(progress.step);
  }
  return seconds;
}

}  // namespace hybridize::train
