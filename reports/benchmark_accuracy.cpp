#include "reports/benchmark_accuracy.h"

#include <cstdio>
#include <map>

#include "reports/report_model.h"

namespace hybridize::reports {

namespace {

std::optional<double> speedup_of(const std::string& layout, const std::vector<store::BenchmarkRecord>& benchmarks) {
  std::optional<double> found;
  for (const auto& row : benchmarks)  // oldest first: the newest wins
    if (row.layout == layout && row.ratio_to_teacher) found = row.ratio_to_teacher;
  return found;
}

}  // namespace

std::string describe_settings(const nlohmann::json& settings) {
  const int64_t samples = settings.value("samples", int64_t(1));
  const double temperature = settings.value("temperature", 0.0), top_p = settings.value("top_p", 1.0);
  char text[160];
  if (temperature == 0) {
    std::snprintf(text, sizeof text, "greedy");
  } else {
    std::snprintf(text, sizeof text, "%lld sample%s at T=%g%s", (long long)samples, samples == 1 ? "" : "s",
                  temperature, top_p < 1 ? (", top-p " + std::to_string(top_p).substr(0, 4)).c_str() : "");
  }
  return std::string(text) + ", " + std::to_string(settings.value("max_new_tokens", int64_t(0))) + " new tokens, " +
         settings.value("prompt_format", std::string("?")) + " prompts";
}

std::vector<BenchmarkAccuracy> read_benchmark_accuracy(store::ResultsStore& store, const store::RunRecord& run,
                                                       const std::vector<PlanView>& plans,
                                                       const std::vector<store::BenchmarkRecord>& benchmarks) {
  store::EvaluationStore evaluations(store);
  // One benchmark per task file and settings, in the order first evaluated.
  std::vector<BenchmarkAccuracy> out;
  std::map<std::pair<std::string, std::string>, std::size_t> index;
  std::map<std::pair<std::size_t, std::optional<int64_t>>, store::EvalSummary> summaries;  // (benchmark, stage id)
  const auto benchmark_of = [&](const store::EvaluationRecord& evaluation) {
    const auto key = std::pair{evaluation.task.content_hash, evaluation.settings.dump()};
    if (!index.count(key)) {
      index[key] = out.size();
      out.push_back({evaluation.task.name, describe_settings(evaluation.settings), {}});
    }
    return index[key];
  };
  for (const auto& evaluation : evaluations.evaluations()) {
    const bool teacher = evaluation.model.content_hash == run.model.content_hash;
    if (!teacher && !evaluation.stage_id) continue;
    const auto samples = evaluations.samples(evaluation.id, /*with_completions=*/false);
    if (samples.empty()) continue;
    summaries[{benchmark_of(evaluation), teacher ? std::nullopt : evaluation.stage_id}] =
        store::summarize_evaluation(samples, evaluation.settings.value("seed", uint64_t(0)));
  }
  // Why a quality gate skipped a stage, read once for every benchmark.
  std::map<int64_t, std::string> gated;
  for (const auto& plan : plans)
    for (const auto& view : plan.stages)
      gated[view.stage.id] = store.stage_metrics(view.stage.id).value("gated", std::string());
  for (std::size_t b = 0; b < out.size(); ++b) {
    AccuracyPoint teacher{
        "", std::nullopt, 0,  std::string(std::size_t(std::max<int64_t>(run.model.num_layers, 0)), 'A'), "done",
        "", std::nullopt, 1.0};
    if (const auto found = summaries.find({b, std::nullopt}); found != summaries.end()) teacher.summary = found->second;
    out[b].points.push_back(std::move(teacher));
    for (const auto& plan : plans)
      for (const auto& view : plan.stages) {
        const auto& stage = view.stage;
        AccuracyPoint point{plan.label(),       stage.position,
                            stage.mamba_layers, stage.layout,
                            stage.status,       "",
                            std::nullopt,       speedup_of(stage.layout, benchmarks)};
        if (const auto found = summaries.find({b, stage.id}); found != summaries.end()) point.summary = found->second;
        point.note = gated[stage.id];
        out[b].points.push_back(std::move(point));
      }
  }
  return out;
}

}  // namespace hybridize::reports
