#include "reports/missing_results.h"

#include <algorithm>
#include <cctype>
#include <set>

namespace hybridize::reports {

namespace {

std::string join_numbers(const std::vector<int64_t>& numbers) {
  std::string text;
  for (const int64_t n : numbers) text += (text.empty() ? "" : ", ") + std::to_string(n);
  return text;
}

const ProbeOverview* overview(const ReportModel& model, const std::string& kind, const std::string& variant) {
  for (const auto& probes : model.probes)
    if (probes.kind == kind && probes.variant == variant) return &probes;
  return nullptr;
}

// Layers 0..num_layers-1 without a finished probe of kind/variant.
std::vector<int64_t> unscored_layers(const ReportModel& model, const std::string& kind, const std::string& variant) {
  std::set<int64_t> done;
  for (const auto& scores : model.scores)
    if (scores.kind == kind && scores.variant == variant)
      for (const auto& [layer, metrics] : scores.by_layer) done.insert(layer);
  std::vector<int64_t> missing;
  for (int64_t layer = 0; layer < model.run.model.num_layers; ++layer)
    if (!done.count(layer)) missing.push_back(layer);
  return missing;
}

}  // namespace

std::string shell_quote(std::string_view word) {
  const bool plain = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("_./:=,+@%-").find(c) != std::string_view::npos;
  });
  if (plain) return std::string(word);
  std::string quoted = "'";
  for (const char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::vector<MissingResult> find_missing_results(const ReportModel& model) {
  const auto& run = model.run;
  const std::string db = " --db " + shell_quote(model.database_path);
  const std::string run_flag = " --run " + shell_quote(run.name);
  const auto score = [&](const std::string& kind, const std::string& extra) {
    return "hybridize score " + kind + " --model " + shell_quote(run.model.path) + " --data " +
           shell_quote(run.dataset.spec) + db + run_flag + extra;
  };
  std::vector<MissingResult> missing;

  if (model.teacher.empty())
    missing.push_back({"layers", "the teacher's baseline on the scoring data (probe kind teacher)", score("loo", "")});
  struct Scorer {
    const char* kind;
    const char* variant;
    const char* what;
    bool required;  // LOO of whole blocks is optional: only a started one is missing
  };
  for (const Scorer scorer : {Scorer{"loo", "mixer", "leave-one-out scores of each layer's mixer", true},
                              Scorer{"loo", "block", "leave-one-out scores of whole blocks", false},
                              Scorer{"mmr", "", "MMR probe scores", true},
                              Scorer{"proxy", "", "proxy scores (block influence, attention)", true}}) {
    if (!scorer.required && !overview(model, scorer.kind, scorer.variant)) continue;
    const auto layers = unscored_layers(model, scorer.kind, scorer.variant);
    if (layers.empty()) continue;
    const bool none = int64_t(layers.size()) == run.model.num_layers;
    const std::string extra =
        std::string(scorer.kind) == "loo" && std::string(scorer.variant) == "block" ? " --ablate block" : "";
    missing.push_back({"layers", std::string(scorer.what) + (none ? "" : " for layers " + join_numbers(layers)),
                       score(scorer.kind, extra)});
  }

  if (model.plans.empty())
    missing.push_back({"plans", "replacement plans",
                       "hybridize plan" + db + run_flag + " --strategy paper --targets " +
                           std::to_string(std::max<int64_t>(1, run.model.num_layers / 2))});
  for (const auto& plan : model.plans) {
    std::vector<int64_t> untrained;
    for (const auto& stage : plan.stages)
      if (stage.stage.status != "done") untrained.push_back(stage.stage.position);
    if (!untrained.empty())
      missing.push_back({"distillation",
                         "distillation of plan " + std::to_string(plan.plan.id) + " (" + plan.plan.strategy +
                             "), stage" + (untrained.size() > 1 ? "s " : " ") + join_numbers(untrained),
                         "hybridize distill" + db + " --plan " + std::to_string(plan.plan.id) + " --out stages"});
  }

  const auto benchmarked = [&](const std::string& layout) {
    return std::any_of(model.benchmarks.begin(), model.benchmarks.end(),
                       [&](const store::BenchmarkRecord& row) { return row.layout == layout; });
  };
  const std::string bench = "hybridize bench --model " + shell_quote(run.model.path) + db;
  if (!benchmarked(model.teacher_layout)) missing.push_back({"throughput", "throughput of the teacher", bench});
  for (const auto& plan : model.plans) {
    std::vector<int64_t> unmeasured;
    for (const auto& target : plan.targets)
      if (!benchmarked(target.target.layout)) unmeasured.push_back(target.target.mamba_layers);
    if (!unmeasured.empty())
      missing.push_back({"throughput",
                         "throughput of plan " + std::to_string(plan.plan.id) + " (" + plan.plan.strategy + ") at " +
                             join_numbers(unmeasured) + " Mamba layers",
                         bench + " --plan " + std::to_string(plan.plan.id)});
  }
  return missing;
}

}  // namespace hybridize::reports
