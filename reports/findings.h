#pragma once
// The Apriel-H1 paper's three findings, measured from a run's distilled stages:
//   mamba-count: quality falls as more layers become Mamba;
//   placement:   at the same Mamba count, placements from the layer scores
//                (paper, loo, mmr) beat random and evenly spaced (uniform) ones;
//   divergence:  distilling with reverse KL is at least as good as forward KL.
// Stages evaluated on the same samples are compared sample by sample: the
// mean of the per-sample differences with a 95% bootstrap interval, so
// "better" means the interval excludes zero. Stages stored without per-sample
// values fall back to their own intervals (better = the intervals are disjoint).
#include <optional>
#include <string>
#include <vector>

#include "reports/report_model.h"

namespace hybridize::reports {

enum class Verdict { Reproduced, WithinNoise, NotReproduced, NotMeasured };
std::string verdict_text(Verdict verdict);  // "reproduced", "within noise", "not reproduced", "not measured"

// Two stages on one metric: the difference is second − first.
struct Comparison {
  std::string first, second;  // "plan 3 (paper), 2 Mamba"
  std::string metric;
  double first_mean = 0, second_mean = 0;
  double difference = 0;
  std::optional<double> low, high;  // 95% interval of the difference; none when not paired
  bool paired = false;
  int second_better = 0;  // +1 second better beyond noise, −1 first better beyond noise, 0 within noise
};

struct Finding {
  std::string id;      // "mamba-count", "placement", "divergence"
  std::string claim;   // the paper's finding, in words
  std::string metric;  // the evaluation metric the verdict rests on
  Verdict verdict = Verdict::NotMeasured;
  std::string statement;  // what the store shows, with its numbers
  std::string command;    // when not measured: what would measure it
  std::vector<Comparison> comparisons;
};

// Lower is better for every metric except accuracies.
bool higher_is_better(const std::string& metric);

// The three findings, in the order above.
std::vector<Finding> measure_findings(const ReportModel& model);

}  // namespace hybridize::reports
