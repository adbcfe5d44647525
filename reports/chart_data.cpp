#include "reports/chart_data.h"

#include <algorithm>
#include <map>

namespace hybridize::reports {

namespace {

const char* kind_name(Chart::Kind kind) {
  switch (kind) {
    case Chart::Kind::Line:
      return "line";
    case Chart::Kind::Scatter:
      return "scatter";
    case Chart::Kind::Bar:
      return "bar";
  }
  return "line";
}

std::string target_label(const PlanView& plan, const TargetView& target) {
  return "plan " + std::to_string(plan.plan.id) + " " + plan.plan.strategy + ", " +
         std::to_string(target.target.mamba_layers) + " Mamba";
}

// The quality axis names the metric when every target uses the same one.
std::string quality_axis(const ReportModel& model) {
  std::string metric;
  for (const auto& plan : model.plans)
    for (const auto& target : plan.targets) {
      if (metric.empty()) metric = target.target.quality_metric;
      if (metric != target.target.quality_metric) return "quality (each target's metric)";
    }
  return metric.empty() ? std::string("quality") : metric;
}

}  // namespace

nlohmann::json Chart::to_json() const {
  nlohmann::json series_json = nlohmann::json::array();
  for (const auto& one : series) {
    nlohmann::json points = nlohmann::json::array();
    for (const auto& point : one.points) {
      nlohmann::json p = {{"x", point.x}, {"y", point.y}};
      if (point.low) p["low"] = *point.low;
      if (point.high) p["high"] = *point.high;
      if (!point.label.empty()) p["label"] = point.label;
      points.push_back(std::move(p));
    }
    series_json.push_back({{"label", one.label}, {"points", std::move(points)}});
  }
  return {{"kind", kind_name(kind)}, {"title", title},           {"x_label", x_label},
          {"y_label", y_label},      {"categories", categories}, {"series", std::move(series_json)}};
}

std::size_t Chart::point_count() const {
  std::size_t count = 0;
  for (const auto& one : series) count += one.points.size();
  return count;
}

std::string layout_name(const std::string& layout) {
  const auto mamba = std::count(layout.begin(), layout.end(), 'M');
  if (!layout.empty() && std::all_of(layout.begin(), layout.end(), [](char c) { return c == 'A'; })) return "teacher";
  return std::to_string(mamba) + " Mamba / " + std::to_string(layout.size());
}

std::vector<Chart> layer_score_charts(const ReportModel& model) {
  std::vector<Chart> charts;
  for (std::size_t i = 0; i < model.scores.size(); ++i) {
    const auto& scores = model.scores[i];
    Chart chart{"scores-" + std::to_string(i),
                Chart::Kind::Line,
                scores.label() + " scores per layer",
                "layer",
                "score (mean, 95% CI)",
                {},
                {}};
    for (const auto& metric : scores.metrics) {
      ChartSeries series{metric, {}};
      for (const auto& [layer, summaries] : scores.by_layer)
        if (auto found = summaries.find(metric); found != summaries.end())
          series.points.push_back(
              {double(layer), found->second.value, found->second.ci_low, found->second.ci_high, ""});
      chart.series.push_back(std::move(series));
    }
    charts.push_back(std::move(chart));
  }
  return charts;
}

std::optional<Chart> mmr_curve_chart(const ReportModel& model) {
  if (model.mmr_curves.empty()) return std::nullopt;
  Chart chart{
      "mmr-curves", Chart::Kind::Line, "MMR probe training loss per layer", "step", "distillation loss", {}, {}};
  for (const auto& curve : model.mmr_curves) {
    ChartSeries series{curve.label, {}};
    for (const auto& [step, loss] : curve.points) series.points.push_back({step, loss, std::nullopt, std::nullopt, ""});
    chart.series.push_back(std::move(series));
  }
  return chart;
}

std::optional<Chart> stage_loss_chart(const PlanView& plan) {
  Chart chart{"stage-loss-" + std::to_string(plan.plan.id),
              Chart::Kind::Line,
              "Distillation loss per stage, plan " + std::to_string(plan.plan.id) + " (" + plan.plan.strategy + ")",
              "step",
              "training loss",
              {},
              {}};
  for (const auto& stage : plan.stages) {
    if (stage.metrics.loss_curve.empty()) continue;
    ChartSeries series{
        "stage " + std::to_string(stage.stage.position) + " (" + std::to_string(stage.stage.mamba_layers) + " Mamba)",
        {}};
    for (const auto& [step, loss] : stage.metrics.loss_curve)
      series.points.push_back({step, loss, std::nullopt, std::nullopt, ""});
    chart.series.push_back(std::move(series));
  }
  if (chart.series.empty()) return std::nullopt;
  return chart;
}

std::optional<Chart> stage_quality_chart(const ReportModel& model, const std::string& metric) {
  Chart chart{"stage-quality-" + metric,
              Chart::Kind::Line,
              "Evaluation " + metric + " of the distilled stages by Mamba count",
              "Mamba layers",
              metric,
              {},
              {}};
  for (const auto& plan : model.plans) {
    ChartSeries series{plan.label(), {}};
    for (const auto& stage : plan.stages) {
      const auto& metrics = stage.metrics;
      const auto value = metrics.values.find(metric);
      if (stage.stage.status != "done" || value == metrics.values.end()) continue;
      const auto interval = metrics.intervals.find(metric);
      const bool known = interval != metrics.intervals.end();
      series.points.push_back({double(stage.stage.mamba_layers), value->second,
                               known ? std::optional(interval->second.first) : std::nullopt,
                               known ? std::optional(interval->second.second) : std::nullopt, ""});
    }
    if (!series.points.empty()) chart.series.push_back(std::move(series));
  }
  if (chart.series.empty()) return std::nullopt;
  return chart;
}

std::optional<Chart> throughput_chart(const ReportModel& model) {
  if (model.benchmarks.empty()) return std::nullopt;
  // Decode and total rates; prefill, an order of magnitude higher, would flatten them (it is in the table).
  Chart chart{"throughput",
              Chart::Kind::Bar,
              "Generation throughput, teacher and hybrids",
              "model (layout, batch)",
              "tokens per second",
              {},
              {}};
  ChartSeries decode{"decode", {}}, total{"total", {}};
  for (const auto& row : model.benchmarks) {
    const double at = double(chart.categories.size());
    std::string name = layout_name(row.layout) + ", batch " + std::to_string(row.batch);
    if (std::count(chart.categories.begin(), chart.categories.end(), name))
      name += " (#" + std::to_string(row.id) + ")";
    chart.categories.push_back(std::move(name));
    if (row.decode_tokens_per_s) decode.points.push_back({at, *row.decode_tokens_per_s, {}, {}, ""});
    if (row.total_tokens_per_s) total.points.push_back({at, *row.total_tokens_per_s, {}, {}, ""});
  }
  for (auto* series : {&decode, &total})
    if (!series->points.empty()) chart.series.push_back(std::move(*series));
  return chart;
}

std::optional<Chart> frontier_chart(const ReportModel& model) {
  Chart chart{"frontier",
              Chart::Kind::Scatter,
              "Speed-up against quality loss per plan target (lower loss is better)",
              "speed-up over the teacher (×)",
              quality_axis(model),
              {},
              {}};
  ChartSeries predicted{"predicted", {}}, measured{"measured", {}};
  for (const auto& plan : model.plans)
    for (const auto& target : plan.targets) {
      const auto& quality = target.target.predicted_quality;
      if (quality)
        predicted.points.push_back({target.target.predicted_speedup, quality->value, quality->ci_low, quality->ci_high,
                                    target_label(plan, target)});
      if (target.measured_quality && target.benchmark && target.benchmark->ratio_to_teacher)
        measured.points.push_back(
            {*target.benchmark->ratio_to_teacher, *target.measured_quality, {}, {}, target_label(plan, target)});
    }
  for (auto* series : {&predicted, &measured})
    if (!series->points.empty()) chart.series.push_back(std::move(*series));
  if (chart.series.empty()) return std::nullopt;
  return chart;
}

std::optional<Chart> accuracy_frontier_chart(const BenchmarkAccuracy& benchmark, const std::string& id) {
  Chart chart{id,
              Chart::Kind::Scatter,
              benchmark.task + ": pass@1 against measured speed-up (" + benchmark.settings + ")",
              "speed-up over the teacher (×)",
              "pass@1 (%)",
              {},
              {}};
  std::map<std::string, std::size_t> series_of;
  for (const auto& point : benchmark.points) {
    if (!point.summary || !point.speedup) continue;
    const std::string series = point.plan.empty() ? "teacher" : point.plan;
    if (!series_of.count(series)) {
      series_of[series] = chart.series.size();
      chart.series.push_back({series, {}});
    }
    const auto& pass = point.summary->pass_at_1;
    chart.series[series_of[series]].points.push_back(
        {*point.speedup, 100 * pass.value, as_percent(pass.ci_low), as_percent(pass.ci_high),
         point.stage_position ? "stage " + std::to_string(*point.stage_position) + ", " + layout_name(point.layout)
                              : std::string("teacher")});
  }
  if (chart.series.empty()) return std::nullopt;
  return chart;
}

std::optional<Chart> memory_chart(const ReportModel& model) {
  // Memory depends on how many layers are Mamba, not which: one bar per count
  // (the teacher first) and source.
  std::map<int64_t, std::pair<std::optional<int64_t>, std::optional<int64_t>>> by_mamba;  // predicted, measured
  std::map<int64_t, std::string> names;
  const auto mamba_count = [](const std::string& layout) {
    return int64_t(std::count(layout.begin(), layout.end(), 'M'));
  };
  for (const auto& plan : model.plans)
    for (const auto& target : plan.targets)
      if (target.target.memory_per_sequence > 0) {
        const int64_t count = mamba_count(target.target.layout);
        by_mamba[count].first = by_mamba[count].first.value_or(target.target.memory_per_sequence);
        names[count] = layout_name(target.target.layout);
      }
  for (const auto& row : model.benchmarks)
    if (row.memory_per_sequence) {
      const int64_t count = mamba_count(row.layout);
      by_mamba[count].second = by_mamba[count].second.value_or(*row.memory_per_sequence);
      names[count] = layout_name(row.layout);
    }
  if (by_mamba.empty()) return std::nullopt;

  // MiB for real models, KiB for the small ones of tests and demos.
  int64_t largest = 0;
  for (const auto& [count, bytes] : by_mamba)
    largest = std::max({largest, bytes.first.value_or(0), bytes.second.value_or(0)});
  const bool mebibytes = largest >= (int64_t(1) << 20);
  const double unit = mebibytes ? 1024.0 * 1024.0 : 1024.0;
  Chart chart{"memory",
              Chart::Kind::Bar,
              "Memory per sequence (KV cache and SSM state)",
              "model",
              mebibytes ? "MiB per sequence" : "KiB per sequence",
              {},
              {}};
  ChartSeries predicted{"predicted", {}}, measured{"measured", {}};
  for (const auto& [count, bytes] : by_mamba) {
    const double at = double(chart.categories.size());
    chart.categories.push_back(names[count]);
    if (bytes.first) predicted.points.push_back({at, double(*bytes.first) / unit, {}, {}, ""});
    if (bytes.second) measured.points.push_back({at, double(*bytes.second) / unit, {}, {}, ""});
  }
  for (auto* series : {&predicted, &measured})
    if (!series->points.empty()) chart.series.push_back(std::move(*series));
  return chart;
}

}  // namespace hybridize::reports
