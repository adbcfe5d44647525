#pragma once
// A results store filled as a finished demo run would fill it, through
// ResultsStore: a 6-layer teacher scored by LOO (mixer and block), MMR
// (with loss curves) and proxies, two plans with stages and targets, stage
// results with loss curves, and benchmarks. One stage and one target are
// left without results, so the report has missing results to list. The unit
// tests and the browser test's fixture program both use it.
#include <string>

#include "store/results_store.h"

namespace hybridize::testing {

// A model directory whose name carries HTML and shell specials, to prove escaping.
inline const std::string kHostileModelPath = "/models/<script>alert(1)</script>/\"&'-llama";

// Fills `results` and returns the run's name.
std::string fill_sample_store(store::ResultsStore& results, const std::string& model_path = kHostileModelPath);

// The per-layer values the sample uses, lower = more replaceable.
inline constexpr double kSampleLooKl[6] = {0.90, 0.30, 0.12, 0.05, 0.20, 0.60};
inline constexpr double kSampleMmrLoss[6] = {0.80, 0.25, 0.15, 0.10, 0.30, 0.50};

}  // namespace hybridize::testing
