#pragma once
// The mean of per-sample values with a percentile bootstrap confidence
// interval, reproducible from a seed on every machine.
#include <cstdint>
#include <vector>

#include "store/results_store.h"

namespace hybridize::search {

struct BootstrapOptions {
  int resamples = 1000;
  double level = 0.95;  // two-sided coverage of the interval
  uint64_t seed = 0;
};

// Throws Error when `values` is empty.
store::MetricSummary bootstrap_mean(const std::vector<double>& values, const BootstrapOptions& options);

}  // namespace hybridize::search
