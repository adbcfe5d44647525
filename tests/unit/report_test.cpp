// The HTML report: escaping of user data, Spearman's rho against hand values,
// the stage-metrics reader, the missing-results list with its commands, and a
// rendered page holding every section with a table beside each chart.

#include "catch.h"
#include "report/sample_store.h"
#include "reports/chart_data.h"
#include "reports/html_escape.h"
#include "reports/html_report.h"
#include "reports/missing_results.h"
#include "reports/rank_correlation.h"
#include "reports/report_model.h"
#include "reports/stage_metrics.h"
#include "temp_dir.h"

using namespace hybridize;
using hybridize::testing::TempDir;

namespace {

std::size_t count(const std::string& text, const std::string& part) {
  std::size_t n = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

struct SampleReport {
  TempDir dir;
  store::ResultsStore results{dir / "results.db"};
  reports::ReportModel model;
  SampleReport() { model = reports::read_report(results, *results.find_run(testing::fill_sample_store(results))); }
};

}  // namespace

TEST_CASE("HTML escaping covers the five specials and leaves other text alone", "[report]") {
  CHECK(reports::escape_html("<script>alert(1)</script>\"&'") ==
        "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&amp;&#39;");
  CHECK(reports::escape_html("/models/llama-3 ü") == "/models/llama-3 ü");
}

TEST_CASE("JSON for a <script> element cannot end it, and parses back to the same value", "[report]") {
  const nlohmann::json value = {
      {"path", "/m/</script><script>alert(1)</script><!--&"}, {"separator", "a\u2028b"}, {"list", {1.5, "x>y"}}};
  const std::string text = reports::json_for_script(value);
  CHECK(text.find('<') == std::string::npos);
  CHECK(text.find('>') == std::string::npos);
  CHECK(text.find('&') == std::string::npos);
  CHECK(text.find("\xe2\x80\xa8") == std::string::npos);  // U+2028 ends a line in older JS
  CHECK(nlohmann::json::parse(text) == value);
  // Invalid UTF-8 in a stored path is replaced, not thrown on.
  CHECK_NOTHROW(reports::json_for_script({{"path", std::string("bad\xff")}}));
}

TEST_CASE("Spearman's rho matches values worked by hand", "[report]") {
  // d = (-1, 1, -1, 1, 0): rho = 1 - 6*4 / (5*24) = 0.8.
  CHECK(*reports::spearman({1, 2, 3, 4, 5}, {2, 1, 4, 3, 5}) == Approx(0.8));
  CHECK(*reports::spearman({1, 2, 3, 4}, {40, 30, 20, 10}) == Approx(-1.0));
  CHECK(*reports::spearman({0.1, 5, 7, 100}, {1, 2, 3, 4}) == Approx(1.0));  // ranks, not values
  // Ties take mean ranks (1, 2.5, 2.5, 4) against (1, 2, 3, 4): rho = 4.5 / sqrt(4.5 * 5) = 3 / sqrt(10).
  CHECK(*reports::spearman({1, 2, 2, 3}, {1, 2, 3, 4}) == Approx(3.0 / std::sqrt(10.0)));
  CHECK(reports::average_ranks({10, 20, 10, 5}) == std::vector<double>{2.5, 4, 2.5, 1});
  CHECK_FALSE(reports::spearman({1, 2}, {2, 1}));           // too few pairs
  CHECK_FALSE(reports::spearman({3, 3, 3}, {1, 2, 3}));     // no order on one side
  CHECK_FALSE(reports::spearman({1, 2, 3}, {1, 2, 3, 4}));  // sizes differ
}

TEST_CASE("stage metrics: tokens, the loss curve in any of its shapes, every other number by name", "[report]") {
  const auto metrics = reports::read_stage_metrics(nlohmann::json::parse(R"({
      "tokens": 2000000, "steps": 100, "train_loss": [[0, 3.0], [10, 2.0]],
      "eval": {"kl": 0.1, "accuracy": 0.9}, "timing": {"seconds": 12.5}, "note": "text is skipped"})"));
  CHECK(metrics.tokens == 2000000);
  CHECK(metrics.loss_curve == std::vector<std::pair<double, double>>{{0, 3.0}, {10, 2.0}});
  CHECK(metrics.values ==
        std::map<std::string, double>{{"steps", 100}, {"kl", 0.1}, {"accuracy", 0.9}, {"timing.seconds", 12.5}});

  CHECK(reports::read_stage_metrics(nlohmann::json::parse(R"({"loss_curve": [3.0, 2.5]})")).loss_curve ==
        std::vector<std::pair<double, double>>{{0, 3.0}, {1, 2.5}});
  CHECK(reports::read_stage_metrics(nlohmann::json::parse(R"({"losses": [{"step": 5, "loss": 1.5}]})")).loss_curve ==
        std::vector<std::pair<double, double>>{{5, 1.5}});
  // A curve with a malformed entry is left out rather than half drawn; a fractional token count is a plain value.
  const auto odd = reports::read_stage_metrics(nlohmann::json::parse(R"({"loss": [1.0, "x"], "tokens": 2.5})"));
  CHECK(odd.loss_curve.empty());
  CHECK_FALSE(odd.tokens);
  CHECK(odd.values.at("tokens") == 2.5);
  CHECK(reports::read_stage_metrics(nullptr).values.empty());
}

TEST_CASE("stage metrics: the executor's summaries, per-sample values, evaluation set and divergence", "[report]") {
  const auto metrics = reports::read_stage_metrics(nlohmann::json::parse(R"({
      "eval": {"kl": {"mean": 0.2, "ci_low": 0.1, "ci_high": 0.3, "samples": 3}, "answer_accuracy": 0.5},
      "eval_samples": {"kl": [0.1, 0.2, 0.3], "odd": [1, "x"]}, "eval_data": "synthetic:validation:3",
      "settings": {"divergence": "forward_kl", "steps": 10}})"));
  CHECK(metrics.values == std::map<std::string, double>{{"kl", 0.2}, {"answer_accuracy", 0.5}, {"settings.steps", 10}});
  CHECK(metrics.intervals == std::map<std::string, std::pair<double, double>>{{"kl", {0.1, 0.3}}});
  CHECK(metrics.per_sample == std::map<std::string, std::vector<double>>{{"kl", {0.1, 0.2, 0.3}}});
  CHECK(metrics.eval_data == "synthetic:validation:3");
  CHECK(metrics.divergence == "forward_kl");
  CHECK(reports::read_stage_metrics(nlohmann::json::parse(R"({"eval": {"kl": 0.1}})")).divergence.empty());
}

TEST_CASE("shell quoting leaves plain words and quotes the rest so a shell reads them back", "[report]") {
  CHECK(reports::shell_quote("/data/run-1.db") == "/data/run-1.db");
  CHECK(reports::shell_quote("my model") == "'my model'");
  CHECK(reports::shell_quote("it's") == "'it'\\''s'");
  CHECK(reports::shell_quote("") == "''");
}

TEST_CASE("a run with part of its scores lists every missing result with its command", "[report]") {
  TempDir dir;
  store::ResultsStore results(dir / "partial.db");
  const auto run = results.open_run("r1", {"/models/my model", "h1", "LlamaForCausalLM", 6, 100},
                                    {"synthetic:validation:8", "d1", 8, 64}, {{"dtype", "fp32"}}, "test", 1);
  std::vector<store::ProbeKey> keys;
  for (int64_t layer = 0; layer < 4; ++layer) keys.push_back({"loo", "mixer", layer});
  results.ensure_probes(run.id, keys, {});
  for (const auto& claimed : results.claim_probes(run.id, "loo", "mixer", {}, "w:1", 60, 10))
    results.finish_probe(claimed.id, {{{"kl", {0.1 * double(claimed.key.layer), 0.0, 0.2, 8}}}, {}, 8, 1.0, "cpu", {}});

  const auto model = reports::read_report(results, run);
  const std::string db = results.path().string();
  const std::string score_tail = " --model '/models/my model' --data synthetic:validation:8 --db " + db + " --run r1";
  std::vector<std::pair<std::string, std::string>> found;
  for (const auto& missing : model.missing) found.emplace_back(missing.what, missing.command);
  CHECK(found ==
        std::vector<std::pair<std::string, std::string>>{
            {"the teacher's baseline on the scoring data (probe kind teacher)", "hybridize score loo" + score_tail},
            {"leave-one-out scores of each layer's mixer for layers 4, 5", "hybridize score loo" + score_tail},
            {"MMR probe scores", "hybridize score mmr" + score_tail},
            {"proxy scores (block influence, attention)", "hybridize score proxy" + score_tail},
            {"replacement plans", "hybridize plan --db " + db + " --run r1 --strategy paper --targets 3"},
            {"throughput of the teacher", "hybridize bench --model '/models/my model' --db " + db}});
  // Without a plan, the final ranking is the LOO order (lowest KL first).
  CHECK(model.final_ranking == std::vector<int64_t>{0, 1, 2, 3});
}

TEST_CASE("the sample run's report model: scores, correlations, plans with measurements, what is missing", "[report]") {
  SampleReport sample;
  const auto& model = sample.model;
  CHECK(model.teacher.at("nll").samples == 16);
  REQUIRE(model.scores.size() == 4);  // LOO block and mixer, MMR, proxy
  CHECK(model.mmr_curves.size() == 6);

  const auto method = [&](const std::string& label) {
    for (std::size_t i = 0; i < model.ranking_methods.size(); ++i)
      if (model.ranking_methods[i].label == label) return i;
    FAIL("no ranking method " << label);
    return std::size_t(0);
  };
  const std::size_t loo = method("LOO (mixer) kl"), mmr = method("MMR distill_loss");
  // Ranks of the sample's LOO kl (6,4,2,1,3,5) and MMR loss (6,3,2,1,4,5): sum d^2 = 2, rho = 1 - 12/210.
  // The stored means are the per-sample means, which keep each layer's order.
  REQUIRE(model.correlations[loo][mmr].rho);
  CHECK(*model.correlations[loo][mmr].rho == Approx(1.0 - 12.0 / 210.0));
  CHECK(model.correlations[loo][mmr].layers == 6);
  CHECK(*model.correlations[mmr][mmr].rho == Approx(1.0));
  CHECK(model.final_ranking == std::vector<int64_t>{3, 2, 4, 1, 5, 0});

  REQUIRE(model.plans.size() == 2);
  const auto& paper = model.plans[0];
  CHECK(paper.stages[0].metrics.tokens == 2000000);
  CHECK(paper.stages[0].metrics.loss_curve.size() == 21);
  CHECK(paper.targets[0].measured_quality == Approx(0.21));
  REQUIRE(paper.targets[1].benchmark);
  CHECK(*paper.targets[1].benchmark->ratio_to_teacher == Approx(1.82));
  CHECK_FALSE(paper.targets[2].benchmark);

  std::vector<std::string> missing;
  for (const auto& entry : model.missing) missing.push_back(entry.section + ": " + entry.what);
  CHECK(missing == std::vector<std::string>{"distillation: distillation of plan 1 (paper), stage 2",
                                            "throughput: throughput of plan 1 (paper) at 4 Mamba layers"});
}

TEST_CASE("the rendered page has every section, a table beside each chart, and no unescaped user data", "[report]") {
  SampleReport sample;
  const std::string html = reports::render_html_report(sample.model, {"", "2026-01-01T00:00:00Z", "test"});
  for (const char* section :
       {"id=\"findings\"", "id=\"provenance\"", "id=\"layers\"", "id=\"plans\"", "id=\"distillation\"",
        "id=\"throughput\"", "id=\"benchmarks\"", "Missing results", "Agreement between methods", "Final ranking",
        "Layer map of plan 1", "Layer map of plan 2", "Stages of plan 1", "Benchmarks of the teacher and the hybrids"})
    CHECK(html.find(section) != std::string::npos);
  CHECK(html.find("<title>hybridize report: demo</title>") != std::string::npos);

  // The model path appears only escaped: in HTML as entities, in the chart JSON as \u escapes.
  CHECK(html.find("<script>alert(1)") == std::string::npos);
  CHECK(html.find("&lt;script&gt;alert(1)&lt;/script&gt;/&quot;&amp;&#39;-llama") != std::string::npos);
  CHECK(count(html, "</script>") == 4);  // the error recorder, the chart data, Chart.js, the page script

  // Each chart: a canvas with a text alternative and a caption, the chart's data, and a table of its numbers.
  const auto charts_at = html.find("id=\"report-data\">") + std::string("id=\"report-data\">").size();
  const auto data = nlohmann::json::parse(html.substr(charts_at, html.find("</script>", charts_at) - charts_at));
  const std::size_t canvases = count(html, "<canvas data-chart=");
  CHECK(canvases == data["charts"].size());
  // 2 findings charts (stage KL and accuracy by Mamba count), 4 score methods, MMR curves, 2 plans' stage
  // losses, throughput, frontier, memory, and the benchmark's pass@1 against speed-up
  CHECK(canvases == 13);
  CHECK(count(html, "role=\"img\" aria-label=") == canvases);
  CHECK(count(html, "<figcaption>") == canvases);
  CHECK(count(html, "<caption>Numbers behind") == canvases);
  for (const auto& [id, chart] : data["charts"].items()) {
    CHECK_FALSE(chart["title"].get<std::string>().empty());
    CHECK_FALSE(chart["x_label"].get<std::string>().empty());
    CHECK_FALSE(chart["y_label"].get<std::string>().empty());
  }
  // The missing results show their commands with the path shell-quoted and HTML-escaped.
  CHECK(html.find("hybridize distill --db ") != std::string::npos);
  CHECK(html.find("hybridize bench --model &#39;/models/&lt;script&gt;") != std::string::npos);
}

TEST_CASE("the page's title and every store string go through escaping", "[report]") {
  SampleReport sample;
  auto model = sample.model;
  model.run.name = "run<b>";
  model.run.config["note"] = "</pre><img src=x onerror=alert(1)>";
  const std::string html = reports::render_html_report(model, {"T <i>&", "now", "test"});
  CHECK(html.find("<title>T &lt;i&gt;&amp;</title>") != std::string::npos);
  CHECK(html.find("run<b>") == std::string::npos);
  CHECK(html.find("<img") == std::string::npos);
}

TEST_CASE("the store keeps stage results, probe curves and benchmarks", "[report][store]") {
  TempDir dir;
  store::ResultsStore results(dir / "results.db");
  const auto run_name = testing::fill_sample_store(results, "/m");
  const auto run = *results.find_run(run_name);
  const auto plans = results.plans(run.id);
  CHECK(plans[0].stages[0].checkpoint == "/checkpoints/paper/stage-0");
  CHECK(results.stage_metrics(plans[0].stages[0].id)["tokens"] == 2000000);
  CHECK(results.stage_metrics(plans[0].stages[2].id).empty());
  CHECK(plans[0].stages[2].checkpoint.empty());

  const auto mmr = results.probe_results(run.id, "mmr");
  const auto curve = results.probe_curve(mmr.at(0).id);
  REQUIRE(curve.size() == 40);
  CHECK(curve.front() > curve.back());
  CHECK(results.probe_curve(results.probe_results(run.id, "loo").at(0).id).empty());
  CHECK_FALSE(mmr.at(0).finished_at.empty());

  const auto benchmarks = results.benchmarks(run.model.content_hash);
  REQUIRE(benchmarks.size() == 4);
  CHECK(benchmarks[0].layout == "AAAAAA");
  CHECK(benchmarks[1].ratio_to_teacher == Approx(1.55));
  CHECK(benchmarks[1].model.path == "/m");
  CHECK(results.benchmarks("other-hash").empty());
}

TEST_CASE("benchmark accuracy: pass@1 of the teacher and each stage beside its measured speed-up", "[report]") {
  SampleReport sample;
  REQUIRE(sample.model.accuracy.size() == 1);
  const auto& benchmark = sample.model.accuracy.front();
  CHECK(benchmark.task == "gsm8k-sample");
  CHECK(benchmark.settings == "greedy, 512 new tokens, chatml prompts");
  // The teacher, then the paper plan's three stages and the uniform plan's one.
  REQUIRE(benchmark.points.size() == 5);
  CHECK(benchmark.points[0].summary->pass_at_1.value == Approx(0.9));
  CHECK(benchmark.points[0].speedup == 1.0);
  CHECK(benchmark.points[1].summary->pass_at_1.value == Approx(0.8));
  CHECK(benchmark.points[1].speedup == Approx(1.55));
  CHECK(benchmark.points[2].summary->pass_at_1.value == Approx(0.6));
  CHECK(benchmark.points[2].summary->truncated == 1);
  CHECK(benchmark.points[2].summary->no_answer == 1);
  CHECK_FALSE(benchmark.points[3].summary);  // stage 2, never distilled
  CHECK(benchmark.points[3].status == "pending");
  CHECK(benchmark.points[4].summary->pass_at_1.value == Approx(0.5));
  const auto chart = reports::accuracy_frontier_chart(benchmark, "accuracy-0");
  REQUIRE(chart);
  REQUIRE(chart->series.size() == 3);  // the teacher, and one series a plan
  CHECK(chart->series[1].points.size() == 2);
  CHECK(chart->series[1].points[1].x == Approx(1.82));
  CHECK(chart->series[1].points[1].y == Approx(60));
  const std::string html = reports::render_html_report(sample.model, {"", "now", "test"});
  CHECK(html.find("pending, not evaluated") != std::string::npos);
}
