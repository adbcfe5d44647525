#include "store/bootstrap.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "core/error.h"

namespace hybridize::store {

MetricSummary bootstrap_mean(const std::vector<double>& values, const BootstrapOptions& options) {
  if (values.empty()) fail("bootstrap of an empty sample");
  const std::size_t n = values.size();
  MetricSummary summary;
  summary.samples = int64_t(n);
  summary.value = std::accumulate(values.begin(), values.end(), 0.0) / double(n);
  if (n < 2 || options.resamples < 2) return summary;
  // mt19937_64 with plain modulo: std distributions differ between libraries.
  std::mt19937_64 random(options.seed);
  std::vector<double> means(static_cast<std::size_t>(options.resamples));
  for (auto& mean : means) {
    double total = 0;
    for (std::size_t i = 0; i < n; ++i) total += values[random() % n];
    mean = total / double(n);
  }
  std::sort(means.begin(), means.end());
  const double tail = (1.0 - options.level) / 2.0;
  auto quantile = [&](double q) {  // linear interpolation between order statistics
    const double position = q * double(means.size() - 1);
    const auto below = std::size_t(std::floor(position));
    const auto above = std::min(below + 1, means.size() - 1);
    return means[below] + (position - double(below)) * (means[above] - means[below]);
  };
  summary.ci_low = quantile(tail);
  summary.ci_high = quantile(1.0 - tail);
  return summary;
}

}  // namespace hybridize::store
