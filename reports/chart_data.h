#pragma once
// The charts of the report as data: what each plots, its title and axis
// labels. The page's script (assets/report.js) draws them with Chart.js; the
// HTML puts the same numbers in a table beside each chart.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "reports/report_model.h"

namespace hybridize::reports {

struct ChartPoint {
  double x = 0;  // for bar charts: the index into Chart::categories
  double y = 0;
  std::optional<double> low, high;  // a confidence interval, drawn as a whisker
  std::string label;                // names the point in tooltips and the table (scatter charts)
};

struct ChartSeries {
  std::string label;
  std::vector<ChartPoint> points;
};

struct Chart {
  enum class Kind { Line, Scatter, Bar };
  std::string id;  // unique within the page
  Kind kind = Kind::Line;
  std::string title, x_label, y_label;
  std::vector<std::string> categories;  // bar charts' x axis
  std::vector<ChartSeries> series;

  nlohmann::json to_json() const;  // what assets/report.js reads
  std::size_t point_count() const;
};

// Layer importance: one chart per scoring method (its metrics per layer, with
// confidence intervals), and the MMR probes' loss curves (none without curves).
std::vector<Chart> layer_score_charts(const ReportModel& model);
std::optional<Chart> mmr_curve_chart(const ReportModel& model);
// Distillation: the loss curves of a plan's stages (none before any stage ran).
std::optional<Chart> stage_loss_chart(const PlanView& plan);
// Findings: one evaluation metric of every plan's distilled stages against their
// Mamba count, with the stages' intervals (none when no stage reported the metric).
std::optional<Chart> stage_quality_chart(const ReportModel& model, const std::string& metric);
// Throughput: decode and total tokens/s of every benchmark (none without benchmarks).
std::optional<Chart> throughput_chart(const ReportModel& model);
// Speed-up against quality, one point per plan target: predicted, and measured where benchmarked.
std::optional<Chart> frontier_chart(const ReportModel& model);
// Benchmarks: one task's pass@1 against the measured speed-up, the teacher at
// 1x and a series per plan (stages without a measured speed-up are left out).
std::optional<Chart> accuracy_frontier_chart(const BenchmarkAccuracy& benchmark, const std::string& id);
// Memory per sequence: the planner's prediction for each target and every benchmark's measurement.
std::optional<Chart> memory_chart(const ReportModel& model);

// "teacher" for all attention, else "N Mamba / L" (layouts are one letter a layer).
std::string layout_name(const std::string& layout);

}  // namespace hybridize::reports
