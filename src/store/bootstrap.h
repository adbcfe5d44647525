#pragma once
// The mean of per-sample values with a percentile bootstrap confidence
// interval, reproducible from a seed on every machine. Torch-free: scorers,
// the planner and the report (paired differences between stages) share it.
#include <cstdint>
#include <vector>

#include "store/results_store.h"

namespace hybridize::store {

struct BootstrapOptions {
  int resamples = 1000;
  double level = 0.95;  // two-sided coverage of the interval
  uint64_t seed = 0;
};

// Throws Error when `values` is empty.
MetricSummary bootstrap_mean(const std::vector<double>& values, const BootstrapOptions& options);

}  // namespace hybridize::store
