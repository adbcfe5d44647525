#pragma once
// Spearman rank correlation, to show how far two layer-scoring methods agree.
#include <optional>
#include <vector>

namespace hybridize::reports {

// Ranks 1..n by ascending value; tied values share the mean of their ranks.
std::vector<double> average_ranks(const std::vector<double>& values);

// Spearman's rho: the Pearson correlation of the two samples' average ranks
// (exact with ties). None when the sizes differ, fewer than 3 pairs, or one
// side is constant (its ranks carry no order).
std::optional<double> spearman(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace hybridize::reports
