// The report's findings: each of the paper's three findings forced both ways
// (and within noise, and not measured) on small stores whose stages carry
// per-sample evaluations built to differ beyond noise or not.

#include <cmath>
#include <optional>

#include "catch.h"
#include "reports/findings.h"
#include "reports/html_report.h"
#include "reports/report_model.h"
#include "temp_dir.h"

using namespace hybridize;
using hybridize::testing::TempDir;

namespace {

constexpr int kSamples = 32;
const std::string kEvalData = "synthetic:validation:32:seed=1";

struct StageSpec {
  std::string layout;  // 4 layers
  double kl = 0, nll = 0;
  std::optional<double> accuracy;  // greedy-generation accuracy, when the stage has it
};

struct PlanSpec {
  std::string strategy;
  std::vector<StageSpec> stages;
  bool forward = false;
  // Per-sample values: mean + spread * a pattern. `shared_pattern`: the same pattern for
  // every stage, so paired differences are exact; otherwise each stage draws its own.
  double spread = 0.01;
  bool shared_pattern = true;
  bool per_sample = true;
};

// Exactly `mean` on average: the pattern's own mean is taken out.
std::vector<double> values_around(double mean, double spread, int salt) {
  std::vector<double> pattern;
  double offset = 0;
  for (int i = 0; i < kSamples; ++i) {
    pattern.push_back(spread * std::sin(double(i * 7 + salt)));
    offset += pattern.back() / kSamples;
  }
  for (auto& value : pattern) value += mean - offset;
  return pattern;
}

nlohmann::json summary(const std::vector<double>& values, double spread) {
  double mean = 0;
  for (const double v : values) mean += v;
  mean /= double(values.size());
  return {{"mean", mean}, {"ci_low", mean - spread / 2}, {"ci_high", mean + spread / 2}, {"samples", values.size()}};
}

nlohmann::json stage_metrics(const PlanSpec& plan, const StageSpec& stage, int salt) {
  nlohmann::json metrics = {{"eval_data", kEvalData},
                            {"settings", {{"divergence", plan.forward ? "forward_kl" : "reverse_kl"}}},
                            {"tokens", 1000}};
  std::vector<std::pair<const char*, double>> means = {{"kl", stage.kl}, {"nll", stage.nll}};
  if (stage.accuracy) means.emplace_back("accuracy", *stage.accuracy);
  for (const auto& [name, mean] : means) {
    const auto values = values_around(mean, plan.spread, plan.shared_pattern ? 0 : salt);
    metrics["eval"][name] = summary(values, plan.spread);
    if (plan.per_sample) metrics["eval_samples"][name] = values;
  }
  return metrics;
}

struct FindingsStore {
  TempDir dir;
  store::ResultsStore results{dir / "results.db"};
  reports::ReportModel model;

  explicit FindingsStore(const std::vector<PlanSpec>& plans) {
    const store::ModelRecord model_record{"/models/tiny", "0123456789abcdef0123456789abcdef", "LlamaForCausalLM", 4,
                                          1000};
    const store::DatasetRecord data{kEvalData, "fedcba9876543210fedcba9876543210", kSamples, 1024};
    const auto run = results.open_run("findings", model_record, data, nlohmann::json::object(), "test", 7);
    int salt = 1;
    for (const auto& spec : plans) {
      store::PlanRecord plan;
      plan.run_id = run.id;
      plan.strategy = spec.strategy;
      for (std::size_t at = 0; at < spec.stages.size(); ++at) {
        const auto& layout = spec.stages[at].layout;
        store::StageRecord stage;
        stage.position = int64_t(at);
        if (at > 0) stage.parent_position = int64_t(at) - 1;
        stage.mamba_layers = int64_t(std::count(layout.begin(), layout.end(), 'M'));
        stage.layout = layout;
        plan.stages.push_back(stage);
      }
      const int64_t id = results.save_plan(plan);
      for (const auto& stored : results.find_plan(id).stages)
        results.update_stage(stored.id, "done", "/stages/" + std::to_string(stored.id),
                             stage_metrics(spec, spec.stages[std::size_t(stored.position)], salt++));
    }
    model = reports::read_report(results, *results.find_run("findings"));
  }

  reports::Finding finding(const std::string& id) const {
    for (auto& finding : reports::measure_findings(model))
      if (finding.id == id) return finding;
    FAIL("no finding " << id);
    return {};
  }
};

// A plan whose stages replace layers 3, then 2, then 1 (or the given layouts) with KL `kls`.
PlanSpec plan(const std::string& strategy, const std::vector<double>& kls,
              std::vector<std::string> layouts = {"AAAM", "AAMM", "AMMM"}) {
  PlanSpec spec{strategy, {}};
  for (std::size_t i = 0; i < kls.size(); ++i) spec.stages.push_back({layouts[i], kls[i], 1.0 + kls[i], std::nullopt});
  return spec;
}

}  // namespace

TEST_CASE("finding (a): KL rising with the Mamba count is reproduced; falling is not; noise is said",
          "[report][findings]") {
  const FindingsStore rising(
      {plan("paper", {0.1, 0.2, 0.4}), plan("uniform", {0.15, 0.3, 0.5}, {"AMAA", "MAMA", "AMMM"})});
  auto finding = rising.finding("mamba-count");
  CHECK(finding.verdict == reports::Verdict::Reproduced);
  REQUIRE(finding.comparisons.size() == 2);
  CHECK(finding.comparisons[0].paired);
  CHECK(finding.comparisons[0].difference == Approx(0.3));
  CHECK(finding.comparisons[0].second_better == -1);  // the 3-Mamba stage is worse
  CHECK(finding.statement.find("in 2 of 2 plans") != std::string::npos);
  CHECK(finding.statement.find("0.1 at 1 → 0.2 at 2 → 0.4 at 3") != std::string::npos);
  CHECK(finding.command.empty());

  const FindingsStore falling({plan("paper", {0.1, 0.2, 0.4}), plan("loo", {0.4, 0.3, 0.2})});
  CHECK(falling.finding("mamba-count").verdict == reports::Verdict::NotReproduced);

  auto noisy = plan("paper", {0.10, 0.11, 0.12});
  noisy.spread = 1.0;
  noisy.shared_pattern = false;
  CHECK(FindingsStore({noisy}).finding("mamba-count").verdict == reports::Verdict::WithinNoise);

  const FindingsStore single({plan("paper", {0.1})});
  finding = single.finding("mamba-count");
  CHECK(finding.verdict == reports::Verdict::NotMeasured);
  CHECK(finding.command.find("hybridize plan --db ") != std::string::npos);
  CHECK(finding.command.find("hybridize distill") != std::string::npos);
}

TEST_CASE("finding (b): score-based placement beating random and uniform is reproduced; losing is not",
          "[report][findings]") {
  const std::vector<std::string> spread_out = {"AMAA", "MAMA", "AMMM"};
  const FindingsStore better({plan("paper", {0.1, 0.2, 0.4}), plan("loo", {0.1, 0.2, 0.4}),
                              plan("uniform", {0.2, 0.5, 0.4}, spread_out),
                              plan("random", {0.3, 0.6, 0.4}, spread_out)});
  auto finding = better.finding("placement");
  CHECK(finding.verdict == reports::Verdict::Reproduced);
  // Two scored plans x two baselines x the 1- and 2-Mamba stages; the 3-Mamba layouts coincide.
  CHECK(finding.comparisons.size() == 8);
  CHECK(finding.statement.find("beyond noise in 8 of 8") != std::string::npos);
  CHECK(finding.statement.find("4 pair(s) of stages with the same layout") != std::string::npos);
  for (const auto& comparison : finding.comparisons) CHECK(comparison.second_better == 1);

  const FindingsStore worse({plan("paper", {0.3, 0.6, 0.9}), plan("random", {0.1, 0.2, 0.9}, spread_out)});
  finding = worse.finding("placement");
  CHECK(finding.verdict == reports::Verdict::NotReproduced);
  CHECK(finding.comparisons.front().second_better == -1);

  const FindingsStore tied({plan("paper", {0.1, 0.2}), plan("random", {0.1, 0.2}, spread_out)});
  CHECK(tied.finding("placement").verdict == reports::Verdict::WithinNoise);

  const FindingsStore same_layouts({plan("paper", {0.1, 0.2}), plan("uniform", {0.3, 0.4})});
  finding = same_layouts.finding("placement");
  CHECK(finding.verdict == reports::Verdict::NotMeasured);
  CHECK(finding.statement.find("2 pair(s) of stages with the same layout") != std::string::npos);
  CHECK(finding.command.find("--strategy paper,loo,uniform,random") != std::string::npos);

  // A forward-KL plan is no placement: the same scored plan distilled otherwise is left out.
  auto forward = plan("paper", {0.05, 0.1});
  forward.forward = true;
  const FindingsStore only_forward({forward, plan("random", {0.3, 0.6}, spread_out)});
  CHECK(only_forward.finding("placement").verdict == reports::Verdict::NotMeasured);
}

TEST_CASE("finding (c): reverse KL at least as good as forward KL, on accuracy else NLL, stage by stage",
          "[report][findings]") {
  auto forward_plan = [](std::vector<double> kls) {
    auto spec = plan("paper", kls);
    spec.forward = true;
    return spec;
  };
  // Without accuracies, NLL decides: reverse-KL students with lower NLL (the fixture's NLL is 1 + KL).
  const FindingsStore reverse_better({plan("paper", {0.1, 0.2}), forward_plan({0.3, 0.4})});
  auto finding = reverse_better.finding("divergence");
  CHECK(finding.verdict == reports::Verdict::Reproduced);
  CHECK(finding.metric == "nll");
  REQUIRE(finding.comparisons.size() == 2);
  CHECK(finding.comparisons[0].first == "plan 2 (paper, forward KL), 1 Mamba");
  CHECK(finding.comparisons[0].second == "plan 1 (paper), 1 Mamba");
  CHECK(finding.comparisons[0].second_better == 1);

  const FindingsStore forward_better({plan("paper", {0.3, 0.4}), forward_plan({0.1, 0.4})});
  finding = forward_better.finding("divergence");
  CHECK(finding.verdict == reports::Verdict::NotReproduced);
  CHECK(finding.statement.find("worse beyond noise at 1") != std::string::npos);

  // Equal: consistent with "at least as good", but not shown.
  const FindingsStore equal({plan("paper", {0.2, 0.4}), forward_plan({0.2, 0.4})});
  CHECK(equal.finding("divergence").verdict == reports::Verdict::WithinNoise);

  // Where stages have generation accuracy, it decides; the NLL is still reported.
  auto reverse_accurate = plan("paper", {0.3, 0.4});
  auto forward_likely = forward_plan({0.1, 0.2});
  for (auto& stage : reverse_accurate.stages) stage.accuracy = 0.9;
  for (auto& stage : forward_likely.stages) stage.accuracy = 0.6;
  finding = FindingsStore({reverse_accurate, forward_likely}).finding("divergence");
  CHECK(finding.metric == "accuracy");
  CHECK(finding.verdict == reports::Verdict::Reproduced);
  CHECK(finding.statement.find("accuracy is better than the forward-KL students' beyond noise at 2 of 2") !=
        std::string::npos);
  CHECK(
      finding.statement.find("NLL is better than the forward-KL students' beyond noise at 0 of 2 stages, within noise "
                             "at 0, and worse beyond noise at 2") != std::string::npos);
  for (auto& stage : reverse_accurate.stages) stage.accuracy = 0.5;
  CHECK(FindingsStore({reverse_accurate, forward_likely}).finding("divergence").verdict ==
        reports::Verdict::NotReproduced);

  const FindingsStore no_forward({plan("paper", {0.2, 0.4})});
  finding = no_forward.finding("divergence");
  CHECK(finding.verdict == reports::Verdict::NotMeasured);
  CHECK(finding.command.find("--divergence forward") != std::string::npos);
}

TEST_CASE("findings without per-sample values compare the stages' own intervals", "[report][findings]") {
  auto apart = plan("paper", {0.1, 0.5});
  apart.per_sample = false;  // intervals mean ± 0.005: disjoint
  auto finding = FindingsStore({apart}).finding("mamba-count");
  CHECK_FALSE(finding.comparisons.at(0).paired);
  CHECK(finding.verdict == reports::Verdict::Reproduced);

  auto close = plan("paper", {0.1, 0.101});
  close.per_sample = false;
  CHECK(FindingsStore({close}).finding("mamba-count").verdict == reports::Verdict::WithinNoise);
}

TEST_CASE("the findings section shows each verdict, its statement and the comparisons", "[report][findings]") {
  const FindingsStore store({plan("paper", {0.1, 0.2, 0.4}), plan("random", {0.3, 0.5}, {"AMAA", "MAMA"})});
  const auto html = reports::render_html_report(store.model, {"", "2026-01-01", "test"});
  CHECK(html.find("<section id=\"findings\"") < html.find("<section id=\"provenance\""));
  CHECK(html.find("id=\"finding-mamba-count\" data-verdict=\"reproduced\"") != std::string::npos);
  CHECK(html.find("id=\"finding-placement\" data-verdict=\"reproduced\"") != std::string::npos);
  CHECK(html.find("id=\"finding-divergence\" data-verdict=\"not measured\"") != std::string::npos);
  CHECK(html.find("--divergence forward") != std::string::npos);
  CHECK(html.find("data-chart=\"stage-quality-kl\"") != std::string::npos);
  CHECK(html.find("Comparisons behind (b)") != std::string::npos);
}
