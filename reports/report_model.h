#pragma once
// Everything the HTML report shows, read from the results store into plain
// values (reports/html_report.h renders them; nothing here knows HTML).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "reports/benchmark_accuracy.h"
#include "reports/stage_metrics.h"
#include "store/results_store.h"

namespace hybridize::reports {

// Probes of one kind and variant: how many are in which state, where and how long they ran.
struct ProbeOverview {
  std::string kind, variant;
  std::map<std::string, int64_t> by_status;  // "done", "pending", "running", "failed"
  std::map<std::string, int64_t> devices;    // finished probes per device
  double seconds = 0;
  std::string first_finished, last_finished;
  std::vector<std::string> errors;  // "layer N: message" of failed probes
};

// One scoring method (kind + variant) and its finished probes' summaries.
struct LayerScores {
  std::string kind, variant;
  std::vector<std::string> metrics;  // every metric seen, in name order
  std::map<int64_t, std::map<std::string, store::MetricSummary>> by_layer;
  std::string label() const;  // "LOO (mixer)", "MMR", "proxy"
};

// A per-layer value that orders layers (lower = more replaceable) for the
// rank correlation and the final ranking.
struct RankingMethod {
  std::string label;  // "LOO (mixer) kl"
  std::map<int64_t, double> by_layer;
};

struct RankCorrelation {
  std::optional<double> rho;  // none with fewer than 3 shared layers or no order
  int64_t layers = 0;         // layers both methods scored
};

struct LossCurve {
  std::string label;
  std::vector<std::pair<double, double>> points;  // (step, loss)
};

struct StageView {
  store::StageRecord stage;
  StageMetrics metrics;  // empty until the executor has written them
};

struct TargetView {
  store::PlanTargetRecord target;
  std::optional<double> measured_quality;           // the stage's evaluation of target.quality_metric
  std::optional<store::BenchmarkRecord> benchmark;  // the newest benchmark of target.layout
};

struct PlanView {
  store::PlanRecord plan;  // plan.stages is in `stages` with their metrics
  std::vector<StageView> stages;
  std::vector<TargetView> targets;

  // Distilled with forward KL (the stages' settings say so); reverse KL, the paper's, otherwise.
  bool forward_kl() const;
  std::string label() const;  // "plan 3 (paper)", "plan 5 (paper, forward KL)"
};

// A result the store lacks, and the command that would produce it.
struct MissingResult {
  std::string section;  // the report section that shows it: "layers", "plans", "distillation" or "throughput"
  std::string what;
  std::string command;
};

struct ReportModel {
  std::string database_path;
  store::RunRecord run;
  std::map<std::string, store::MetricSummary> teacher;  // the teacher probe's metrics (e.g. nll)
  std::vector<ProbeOverview> probes;
  std::vector<LayerScores> scores;
  std::vector<LossCurve> mmr_curves;  // one per layer with a recorded probe curve
  std::vector<RankingMethod> ranking_methods;
  std::vector<std::vector<RankCorrelation>> correlations;  // [i][j] between ranking_methods i and j
  std::vector<int64_t> final_ranking;                      // layers, most replaceable first
  std::string final_ranking_source;                        // what the final ranking is
  std::vector<PlanView> plans;
  std::vector<store::BenchmarkRecord> benchmarks;  // of the run's model
  std::string teacher_layout;                      // all attention, as benchmarks name it
  std::vector<BenchmarkAccuracy> accuracy;         // pass@1 of the teacher and the stages per benchmark task
  std::vector<MissingResult> missing;
};

// Reads run `run` and everything stored for it, and derives the rank
// correlations, the final ranking and the list of missing results.
ReportModel read_report(store::ResultsStore& store, const store::RunRecord& run);

}  // namespace hybridize::reports
