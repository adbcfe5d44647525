#include "reports/report_model.h"

#include <algorithm>
#include <tuple>

#include "reports/missing_results.h"
#include "reports/rank_correlation.h"

namespace hybridize::reports {

namespace {

// Methods in reading order: the teacher's baseline, the direct measurements
// (LOO of the mixer before the whole block), MMR, then proxies.
std::tuple<int, bool, std::string> method_order(const std::string& kind, const std::string& variant) {
  const int rank = kind == "teacher" ? 0 : kind == "loo" ? 1 : kind == "mmr" ? 2 : kind == "proxy" ? 3 : 4;
  return {rank, variant != "mixer", variant};
}

// The metric that orders layers for each scorer; proxies are each their own method.
const char* ranking_metric(const std::string& kind) {
  if (kind == "loo") return "kl";
  if (kind == "mmr") return "distill_loss";
  return "";
}

std::vector<RankingMethod> ranking_methods(const std::vector<LayerScores>& scores) {
  std::vector<RankingMethod> methods;
  for (const auto& method : scores) {
    std::vector<std::string> metrics;
    const std::string preferred = ranking_metric(method.kind);
    if (method.kind == "proxy")
      metrics = method.metrics;
    else if (std::count(method.metrics.begin(), method.metrics.end(), preferred))
      metrics = {preferred};
    else if (!method.metrics.empty())
      metrics = {method.metrics.front()};
    for (const auto& metric : metrics) {
      RankingMethod ranking{method.label() + " " + metric, {}};
      for (const auto& [layer, summaries] : method.by_layer)
        if (auto found = summaries.find(metric); found != summaries.end())
          ranking.by_layer[layer] = found->second.value;
      methods.push_back(std::move(ranking));
    }
  }
  return methods;
}

RankCorrelation correlate(const RankingMethod& a, const RankingMethod& b) {
  std::vector<double> x, y;
  for (const auto& [layer, value] : a.by_layer)
    if (auto other = b.by_layer.find(layer); other != b.by_layer.end()) {
      x.push_back(value);
      y.push_back(other->second);
    }
  return {spearman(x, y), int64_t(x.size())};
}

// Layers sorted by a method's value, lowest (most replaceable) first.
std::vector<int64_t> order_by(const RankingMethod& method) {
  std::vector<std::pair<double, int64_t>> by_value;
  for (const auto& [layer, value] : method.by_layer) by_value.emplace_back(value, layer);
  std::stable_sort(by_value.begin(), by_value.end());
  std::vector<int64_t> layers;
  for (const auto& [value, layer] : by_value) layers.push_back(layer);
  return layers;
}

void add_probe(ReportModel& model, std::map<std::pair<std::string, std::string>, std::size_t>& overview_index,
               std::map<std::pair<std::string, std::string>, std::size_t>& scores_index,
               const store::ProbeResult& probe) {
  const auto key = std::pair{probe.key.kind, probe.key.variant};
  if (!overview_index.count(key)) {
    overview_index[key] = model.probes.size();
    model.probes.push_back({probe.key.kind, probe.key.variant, {}, {}, 0, "", "", {}});
  }
  auto& overview = model.probes[overview_index[key]];
  ++overview.by_status[probe.status];
  overview.seconds += probe.seconds;
  if (probe.status == "failed")
    overview.errors.push_back("layer " + std::to_string(probe.key.layer) + ": " + probe.error);
  if (probe.status != "done") return;
  ++overview.devices[probe.device.empty() ? "(unrecorded)" : probe.device];
  if (overview.first_finished.empty() || probe.finished_at < overview.first_finished)
    overview.first_finished = probe.finished_at;
  overview.last_finished = std::max(overview.last_finished, probe.finished_at);

  if (probe.key.layer < 0) {  // the teacher's own baseline, not a layer
    if (probe.key.kind == "teacher") model.teacher = probe.metrics;
    return;
  }
  if (!scores_index.count(key)) {
    scores_index[key] = model.scores.size();
    model.scores.push_back({probe.key.kind, probe.key.variant, {}, {}});
  }
  auto& scores = model.scores[scores_index[key]];
  scores.by_layer[probe.key.layer] = probe.metrics;
  for (const auto& [metric, summary] : probe.metrics)
    if (!std::count(scores.metrics.begin(), scores.metrics.end(), metric)) scores.metrics.push_back(metric);
}

}  // namespace

std::string LayerScores::label() const {
  std::string name = kind == "loo" ? "LOO" : kind == "mmr" ? "MMR" : kind;
  return variant.empty() ? name : name + " (" + variant + ")";
}

bool PlanView::forward_kl() const {
  return std::any_of(stages.begin(), stages.end(),
                     [](const StageView& view) { return view.metrics.divergence == "forward_kl"; });
}

std::string PlanView::label() const {
  return "plan " + std::to_string(plan.id) + " (" + plan.strategy + (forward_kl() ? ", forward KL" : "") + ")";
}

ReportModel read_report(store::ResultsStore& store, const store::RunRecord& run) {
  ReportModel model;
  model.database_path = store.path().string();
  model.run = run;
  model.teacher_layout = std::string(std::size_t(std::max<int64_t>(run.model.num_layers, 0)), 'A');

  std::map<std::pair<std::string, std::string>, std::size_t> overview_index, scores_index;
  const auto probes = store.probe_results(run.id);
  for (const auto& probe : probes) {
    add_probe(model, overview_index, scores_index, probe);
    if (probe.key.kind == "mmr" && probe.status == "done") {
      const auto losses = store.probe_curve(probe.id);
      if (losses.empty()) continue;
      LossCurve curve{"layer " + std::to_string(probe.key.layer), {}};
      for (std::size_t step = 0; step < losses.size(); ++step) curve.points.emplace_back(double(step), losses[step]);
      model.mmr_curves.push_back(std::move(curve));
    }
  }
  for (auto& scores : model.scores) std::sort(scores.metrics.begin(), scores.metrics.end());
  std::stable_sort(model.scores.begin(), model.scores.end(), [](const auto& a, const auto& b) {
    return method_order(a.kind, a.variant) < method_order(b.kind, b.variant);
  });
  std::stable_sort(model.probes.begin(), model.probes.end(), [](const auto& a, const auto& b) {
    return method_order(a.kind, a.variant) < method_order(b.kind, b.variant);
  });

  model.ranking_methods = ranking_methods(model.scores);
  const std::size_t methods = model.ranking_methods.size();
  model.correlations.assign(methods, std::vector<RankCorrelation>(methods));
  for (std::size_t i = 0; i < methods; ++i)
    for (std::size_t j = 0; j < methods; ++j)
      model.correlations[i][j] = correlate(model.ranking_methods[i], model.ranking_methods[j]);

  model.benchmarks = store.benchmarks(run.model.content_hash);
  for (auto& plan : store.plans(run.id)) {
    PlanView view;
    for (const auto& stage : plan.stages)
      view.stages.push_back({stage, read_stage_metrics(store.stage_metrics(stage.id))});
    for (const auto& target : plan.targets) {
      TargetView measured{target, std::nullopt, std::nullopt};
      for (const auto& stage : view.stages)
        if (stage.stage.position == target.stage_position) {
          auto value = stage.metrics.values.find(target.quality_metric);
          if (value != stage.metrics.values.end()) measured.measured_quality = value->second;
        }
      for (const auto& benchmark : model.benchmarks)
        if (benchmark.layout == target.layout) measured.benchmark = benchmark;  // rows are oldest first
      view.targets.push_back(std::move(measured));
    }
    view.plan = std::move(plan);
    model.plans.push_back(std::move(view));
  }

  model.accuracy = read_benchmark_accuracy(store, run, model.plans, model.benchmarks);

  if (!model.plans.empty()) {
    const auto& plan = model.plans.front().plan;
    model.final_ranking = plan.layer_order;
    model.final_ranking_source =
        "the replacement order of plan " + std::to_string(plan.id) + " (" + plan.strategy + ")";
  } else {
    // Without a plan, the most direct measurement available orders the layers.
    for (const char* preferred : {"MMR", "LOO (mixer)", "LOO (block)", "proxy"})
      for (const auto& method : model.ranking_methods)
        if (model.final_ranking.empty() && method.label.rfind(preferred, 0) == 0) {
          model.final_ranking = order_by(method);
          model.final_ranking_source = method.label + ", lowest first (no plan yet)";
        }
  }

  model.missing = find_missing_results(model);
  return model;
}

}  // namespace hybridize::reports
