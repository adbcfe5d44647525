#pragma once
// The learning-rate schedule: linear warm-up from 0 to the peak, then cosine
// decay from the peak to a floor at the last step.
#include <cstdint>

namespace hybridize::train {

struct LearningRateSchedule {
  double peak = 1e-3;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
  double floor = 0.0;  // the rate reached at total_steps and kept after it

  // Throws Error naming the field that is out of range.
  void validate() const;
  // The rate of the optimizer step `step` (0-based).
  double at(int64_t step) const;
};

}  // namespace hybridize::train
