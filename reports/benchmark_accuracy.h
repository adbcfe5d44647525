#pragma once
// Benchmark accuracy for the report: per task file and generation settings,
// the teacher's pass@1 and every plan stage's, each beside the speed-up its
// layout measured, so a reviewer can pick a point on the quality-throughput
// frontier (the Apriel-H1 report's view of its stages).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/evaluations.h"

namespace hybridize::reports {

struct PlanView;

// One model's result on one benchmark: the teacher, or a plan's stage.
struct AccuracyPoint {
  std::string plan;                       // "" for the teacher; else the plan's label
  std::optional<int64_t> stage_position;  // none for the teacher
  int64_t mamba_layers = 0;
  std::string layout;
  std::string status;  // the stage's: "done", "skipped" (with why in `note`), "pending", ...
  std::string note;
  std::optional<store::EvalSummary> summary;  // none: not evaluated (yet)
  std::optional<double> speedup;              // measured by the benchmark of its layout
};

struct BenchmarkAccuracy {
  std::string task;                   // the task file's name
  std::string settings;               // "greedy, 64 new tokens, synthetic prompts"
  std::vector<AccuracyPoint> points;  // the teacher first, then each plan's stages in order
};

// Reads every evaluation of the run's teacher and of its plans' stages.
// `benchmarks` give each layout's measured speed-up.
std::vector<BenchmarkAccuracy> read_benchmark_accuracy(store::ResultsStore& store, const store::RunRecord& run,
                                                       const std::vector<PlanView>& plans,
                                                       const std::vector<store::BenchmarkRecord>& benchmarks);

// A share (an interval's end) in percent; none stays none.
inline std::optional<double> as_percent(const std::optional<double>& share) {
  return share ? std::optional(100 * *share) : std::nullopt;
}

// How an evaluation generated: "greedy, 64 new tokens, synthetic prompts" or "4 samples at T=0.6, top-p 0.95, ...".
std::string describe_settings(const nlohmann::json& settings);

}  // namespace hybridize::reports
