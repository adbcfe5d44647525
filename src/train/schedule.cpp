#include "train/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/error.h"

namespace hybridize::train {

void LearningRateSchedule::validate() const {
  if (!(peak > 0) || !std::isfinite(peak)) fail("learning rate must be positive, got ", peak);
  if (!(floor >= 0) || floor > peak) fail("learning-rate floor must lie in [0, ", peak, "], got ", floor);
  if (total_steps <= 0) fail("total steps must be positive, got ", total_steps);
  if (warmup_steps < 0 || warmup_steps > total_steps)
    fail("warm-up steps must lie in [0, ", total_steps, "], got ", warmup_steps);
}

double LearningRateSchedule::at(int64_t step) const {
  // Step s of the warm-up trains at (s+1)/warmup of the peak, so the first step already moves.
  if (step < warmup_steps) return peak * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  const int64_t decay_steps = total_steps - warmup_steps;
  if (decay_steps <= 1) return peak;
  const double progress =
      std::min(1.0, static_cast<double>(step - warmup_steps) / static_cast<double>(decay_steps - 1));
  return floor + (peak - floor) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
}

}  // namespace hybridize::train
