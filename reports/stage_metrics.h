#pragma once
// What the report reads from a stage's `metrics` JSON (written by the
// distillation executor): the tokens it trained on, its loss curve and its
// evaluation. Only `tokens` and the curve have fixed meanings; every other
// number is shown under its own name, so new metrics appear without a change here;
// a summary object {"mean", "ci_low", "ci_high", "samples"} is one value with its interval.
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace hybridize::reports {

struct StageMetrics {
  std::optional<int64_t> tokens;
  std::vector<std::pair<double, double>> loss_curve;  // (step, loss)
  // Every other number, by name: nested objects' names joined with '.', except
  // that an "eval" or "evaluation" object's entries keep their bare names.
  std::map<std::string, double> values;
  // 95% intervals of those values that were stored as {"mean", "ci_low", "ci_high"} summaries.
  std::map<std::string, std::pair<double, double>> intervals;
  // Per evaluation sample, by metric (the `eval_samples` object): stages evaluated on the
  // same `eval_data` can be compared sample by sample.
  std::map<std::string, std::vector<double>> per_sample;
  std::string eval_data;   // the evaluation set's spec; empty when not recorded
  std::string divergence;  // settings.divergence: "reverse_kl" or "forward_kl"; empty when not recorded
};

// Reads `metrics` (null or empty: the stage has not run). The loss curve is the first
// array under a key that contains "loss" or "curve": plain numbers (step = index),
// [step, loss] pairs or {"step", "loss"} objects. Other shapes are ignored, and so
// are per-sample arrays that are not all numbers.
StageMetrics read_stage_metrics(const nlohmann::json& metrics);

}  // namespace hybridize::reports
