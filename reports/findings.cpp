#include "reports/findings.h"

#include <algorithm>
#include <cstdio>
#include <optional>

#include "reports/missing_results.h"
#include "store/bootstrap.h"

namespace hybridize::reports {

namespace {

// KL(teacher ‖ student) of the next-token distributions on held-out completions.
constexpr const char* kQualityMetric = "kl";
// Forward against reverse KL is judged on greedy-generation accuracy, the kind of
// measure the paper's claim is about, where stages have it; else on the students'
// NLL of the reference completions. Never on the evaluation KL, KL(teacher ‖ student),
// which is forward KL's own objective. The NLL is teacher-forced likelihood, which
// forward KL also optimises more directly, so it is reported beside the verdict.
constexpr const char* kDivergenceMetric = "accuracy";
constexpr const char* kDivergenceFallbackMetric = "nll";
constexpr int kResamples = 1000;

struct StageValue {
  double mean = 0;
  std::optional<std::pair<double, double>> interval;
  const std::vector<double>* samples = nullptr;
  const std::string* eval_data = nullptr;
};

std::optional<StageValue> value_of(const StageView& view, const std::string& metric) {
  if (view.stage.status != "done") return std::nullopt;
  const auto& metrics = view.metrics;
  const auto found = metrics.values.find(metric);
  if (found == metrics.values.end()) return std::nullopt;
  StageValue value{found->second, std::nullopt, nullptr, &metrics.eval_data};
  if (auto interval = metrics.intervals.find(metric); interval != metrics.intervals.end())
    value.interval = interval->second;
  if (auto samples = metrics.per_sample.find(metric); samples != metrics.per_sample.end())
    value.samples = &samples->second;
  return value;
}

std::string stage_label(const PlanView& plan, const StageView& stage) {
  return plan.label() + ", " + std::to_string(stage.stage.mamba_layers) + " Mamba";
}

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", value);
  return text;
}

std::optional<Comparison> compare(const PlanView& first_plan, const StageView& first, const PlanView& second_plan,
                                  const StageView& second, const std::string& metric, uint64_t seed) {
  const auto a = value_of(first, metric), b = value_of(second, metric);
  if (!a || !b) return std::nullopt;
  Comparison comparison{stage_label(first_plan, first),
                        stage_label(second_plan, second),
                        metric,
                        a->mean,
                        b->mean,
                        b->mean - a->mean,
                        std::nullopt,
                        std::nullopt,
                        false,
                        0};
  const double toward_better = higher_is_better(metric) ? 1.0 : -1.0;  // > 0: the second is better
  if (a->samples && b->samples && a->samples->size() == b->samples->size() && !a->samples->empty() &&
      *a->eval_data == *b->eval_data) {
    std::vector<double> differences;
    for (std::size_t i = 0; i < a->samples->size(); ++i) differences.push_back((*b->samples)[i] - (*a->samples)[i]);
    const auto summary = store::bootstrap_mean(differences, {kResamples, 0.95, seed});
    comparison.paired = true;
    comparison.difference = summary.value;
    comparison.low = summary.ci_low;
    comparison.high = summary.ci_high;
    if (summary.ci_low && summary.ci_high) {
      const double near = toward_better * *summary.ci_low, far = toward_better * *summary.ci_high;
      if (near > 0 && far > 0) comparison.second_better = 1;
      if (near < 0 && far < 0) comparison.second_better = -1;
    }
  } else if (a->interval && b->interval) {
    const bool disjoint = a->interval->second < b->interval->first || b->interval->second < a->interval->first;
    if (disjoint) comparison.second_better = toward_better * comparison.difference > 0 ? 1 : -1;
  }
  return comparison;
}

struct Tally {
  int second_better = 0, first_better = 0, within_noise = 0;
  void add(const Comparison& comparison) {
    (comparison.second_better > 0 ? second_better : comparison.second_better < 0 ? first_better : within_noise)++;
  }
  int total() const { return second_better + first_better + within_noise; }
};

// Two target counts worth planning for: a quarter and a half of the layers.
std::string suggested_targets(const ReportModel& model) {
  const int64_t layers = std::max<int64_t>(model.run.model.num_layers, 2);
  const int64_t low = std::max<int64_t>(1, layers / 4), high = std::max<int64_t>(low + 1, layers / 2);
  return std::to_string(low) + "," + std::to_string(high);
}

std::string plan_and_distill(const ReportModel& model, const std::string& strategies,
                             const std::string& distill_flags) {
  const std::string db = " --db " + shell_quote(model.database_path);
  return "hybridize plan" + db + " --run " + shell_quote(model.run.name) + " --strategy " + strategies + " --targets " +
         suggested_targets(model) + "; then for each plan id it prints: hybridize distill" + db + " --plan ID" +
         distill_flags + " --out stages";
}

Finding mamba_count(const ReportModel& model) {
  Finding finding{
      "mamba-count", "Quality falls as more layers become Mamba", kQualityMetric, Verdict::NotMeasured, "", "", {}};
  Tally tally;
  std::string trajectories;
  for (const auto& plan : model.plans) {
    std::vector<const StageView*> measured;
    for (const auto& stage : plan.stages)
      if (value_of(stage, kQualityMetric)) measured.push_back(&stage);
    std::stable_sort(measured.begin(), measured.end(), [](const StageView* a, const StageView* b) {
      return a->stage.mamba_layers < b->stage.mamba_layers;
    });
    if (measured.size() < 2 || measured.front()->stage.mamba_layers == measured.back()->stage.mamba_layers) continue;
    // A rise in KL is a fall in quality: the comparison's "second better" is the fewer-Mamba stage being worse.
    auto comparison =
        compare(plan, *measured.front(), plan, *measured.back(), kQualityMetric, uint64_t(model.run.seed));
    tally.add(*comparison);
    std::string path;
    for (const auto* stage : measured)
      path += (path.empty() ? "" : " → ") + number(value_of(*stage, kQualityMetric)->mean) + " at " +
              std::to_string(stage->stage.mamba_layers);
    trajectories += (trajectories.empty() ? "" : "; ") + plan.label() + ": " + path;
    finding.comparisons.push_back(std::move(*comparison));
  }
  if (tally.total() == 0) {
    finding.statement = "No plan has distilled stages at two different Mamba counts.";
    finding.command = plan_and_distill(model, "paper", "");
    return finding;
  }
  finding.statement =
      "KL(teacher ‖ student) on held-out samples rises from the fewest to the most Mamba layers beyond "
      "noise in " +
      std::to_string(tally.first_better) + " of " + std::to_string(tally.total()) + " plans, falls beyond noise in " +
      std::to_string(tally.second_better) + ", and is within noise in " + std::to_string(tally.within_noise) + " (" +
      trajectories + " Mamba layers).";
  finding.verdict = tally.second_better > 0               ? Verdict::NotReproduced
                    : tally.first_better == tally.total() ? Verdict::Reproduced
                                                          : Verdict::WithinNoise;
  return finding;
}

bool scored_placement(const std::string& strategy) {
  return strategy == "paper" || strategy == "loo" || strategy == "mmr";
}
bool baseline_placement(const std::string& strategy) { return strategy == "random" || strategy == "uniform"; }

Finding placement(const ReportModel& model) {
  Finding finding{"placement",
                  "At the same Mamba count, placements from the layer scores beat random and evenly spaced ones",
                  kQualityMetric,
                  Verdict::NotMeasured,
                  "",
                  "",
                  {}};
  Tally tally;
  int identical = 0;
  for (const auto& scored : model.plans) {
    if (!scored_placement(scored.plan.strategy) || scored.forward_kl()) continue;
    for (const auto& baseline : model.plans) {
      if (!baseline_placement(baseline.plan.strategy) || baseline.forward_kl()) continue;
      for (const auto& stage : scored.stages)
        for (const auto& other : baseline.stages) {
          if (other.stage.mamba_layers != stage.stage.mamba_layers) continue;
          auto comparison = compare(baseline, other, scored, stage, kQualityMetric, uint64_t(model.run.seed));
          if (!comparison) continue;
          if (other.stage.layout == stage.stage.layout) {  // the same hybrid: nothing to compare
            ++identical;
            continue;
          }
          tally.add(*comparison);
          finding.comparisons.push_back(std::move(*comparison));
        }
    }
  }
  const std::string identical_note =
      identical ? " " + std::to_string(identical) + " pair(s) of stages with the same layout were not compared." : "";
  if (tally.total() == 0) {
    finding.statement =
        "No distilled stage of a score-based plan (paper, loo, mmr) has a different layout from a "
        "distilled random or uniform stage at the same Mamba count." +
        identical_note;
    finding.command = plan_and_distill(model, "paper,loo,uniform,random", "");
    return finding;
  }
  finding.statement =
      "Score-based placements have lower KL(teacher ‖ student) than random or evenly spaced ones at the "
      "same Mamba count beyond noise in " +
      std::to_string(tally.second_better) + " of " + std::to_string(tally.total()) +
      " comparisons, higher beyond noise in " + std::to_string(tally.first_better) + ", and within noise in " +
      std::to_string(tally.within_noise) + "." + identical_note;
  finding.verdict = tally.first_better > 0    ? Verdict::NotReproduced
                    : tally.second_better > 0 ? Verdict::Reproduced
                                              : Verdict::WithinNoise;
  return finding;
}

// Forward-KL stages against the reverse-KL stage of the same strategy, position and layout, on `metric`.
std::vector<Comparison> divergence_comparisons(const ReportModel& model, const std::string& metric) {
  std::vector<Comparison> comparisons;
  for (const auto& forward : model.plans) {
    if (!forward.forward_kl()) continue;
    for (const auto& reverse : model.plans) {
      if (reverse.forward_kl() || reverse.plan.strategy != forward.plan.strategy) continue;
      for (const auto& stage : forward.stages)
        for (const auto& other : reverse.stages)
          if (other.stage.position == stage.stage.position && other.stage.layout == stage.stage.layout)
            if (auto comparison = compare(forward, stage, reverse, other, metric, uint64_t(model.run.seed)))
              comparisons.push_back(std::move(*comparison));
    }
  }
  return comparisons;
}

std::string divergence_sentence(const std::vector<Comparison>& comparisons, const std::string& what) {
  Tally tally;
  for (const auto& comparison : comparisons) tally.add(comparison);
  return "the reverse-KL students' " + what + " is better than the forward-KL students' beyond noise at " +
         std::to_string(tally.second_better) + " of " + std::to_string(tally.total()) + " stages, within noise at " +
         std::to_string(tally.within_noise) + ", and worse beyond noise at " + std::to_string(tally.first_better);
}

Finding divergence(const ReportModel& model) {
  Finding finding{"divergence",
                  "Distilling with reverse KL is at least as good as with forward KL, stage for stage",
                  kDivergenceMetric,
                  Verdict::NotMeasured,
                  "",
                  "",
                  {}};
  finding.comparisons = divergence_comparisons(model, kDivergenceMetric);
  const auto likelihood = divergence_comparisons(model, kDivergenceFallbackMetric);
  if (finding.comparisons.empty()) {
    finding.metric = kDivergenceFallbackMetric;
    finding.comparisons = likelihood;
  }
  Tally tally;
  for (const auto& comparison : finding.comparisons) tally.add(comparison);
  if (tally.total() == 0) {
    finding.statement = "No stage was distilled both with forward KL and with reverse KL (same strategy, same layout).";
    finding.command = "in a run config set compare_forward_kl = true under [distill] and rerun hybridize run, or: " +
                      plan_and_distill(model, "paper", " --divergence forward");
    return finding;
  }
  const bool by_accuracy = finding.metric == kDivergenceMetric;
  finding.statement =
      std::string(by_accuracy ? "By greedy-generation accuracy, " : "By NLL of the reference completions, ") +
      divergence_sentence(finding.comparisons, by_accuracy ? "accuracy" : "NLL") + ".";
  if (by_accuracy && !likelihood.empty())
    finding.statement +=
        " By NLL of the reference completions (teacher-forced, which forward KL fits more directly), " +
        divergence_sentence(likelihood, "NLL") + ".";
  finding.statement += " The evaluation KL is not used: it is KL(teacher ‖ student), forward KL's own objective.";
  finding.verdict = tally.first_better > 0    ? Verdict::NotReproduced
                    : tally.second_better > 0 ? Verdict::Reproduced
                                              : Verdict::WithinNoise;
  return finding;
}

}  // namespace

std::string verdict_text(Verdict verdict) {
  switch (verdict) {
    case Verdict::Reproduced:
      return "reproduced";
    case Verdict::WithinNoise:
      return "within noise";
    case Verdict::NotReproduced:
      return "not reproduced";
    case Verdict::NotMeasured:
      break;
  }
  return "not measured";
}

bool higher_is_better(const std::string& metric) { return metric.find("accuracy") != std::string::npos; }

std::vector<Finding> measure_findings(const ReportModel& model) {
  return {mamba_count(model), placement(model), divergence(model)};
}

}  // namespace hybridize::reports
