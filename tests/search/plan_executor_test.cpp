// A plan executed end to end on the CPU: scores -> plan -> stages, resumable,
// each stage's student saved as an Apriel-H checkpoint and evaluated.
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "data/synthetic_task.h"
#include "model/reference_models.h"
#include "model/weights.h"
#include "search/plan_executor.h"
#include "search/planner.h"
#include "search/quality_gate.h"
#include "search/score_driver.h"
#include "store/evaluations.h"
#include "temp_dir.h"

using namespace hybridize;
using hybridize::testing::reference_model;
using hybridize::testing::TempDir;

namespace {

// The mistral reference (2 layers) scored by LOO into `dir`/results.db, a plan
// of `strategy` for 1 and 2 Mamba layers saved there, and options that distil
// it in a few steps.
search::ExecuteOptions planned(const TempDir& dir, search::Strategy strategy,
                               const std::filesystem::path& model_dir = reference_model("mistral")) {
  search::ScoreOptions score;
  score.model_dir = model_dir;
  score.database = dir / "results.db";
  score.data.samples = 6;
  score.bootstrap_resamples = 50;
  score.quiet = true;
  search::run_scoring(score);

  store::ResultsStore results(score.database);
  const auto run = *results.find_run("default");
  search::ScoreTables scores;
  scores.loo = results.layer_samples(run.id, "loo", "mixer", "kl");
  scores.mmr = scores.loo;  // the paper strategy's later order; only the executor is under test
  search::PlanRequest request;
  request.strategy = strategy;
  request.targets = {1, 2};
  request.min_attention = 0;
  request.d_state = 8;
  auto plan = search::make_plan(request, io::read_transformer_config(score.model_dir), scores, {}, {});
  plan.run_id = run.id;

  search::ExecuteOptions execute;
  execute.database = score.database;
  execute.plan_id = results.save_plan(plan);
  execute.out_dir = dir / "stages";
  execute.train_data.split = "train";
  execute.train_data.samples = 16;
  execute.eval_data.samples = 6;
  execute.settings.steps = 3;
  execute.settings.warmup_steps = 1;
  execute.settings.batch = 4;
  execute.settings.d_state = 8;
  execute.rescore.steps = 3;
  execute.rescore.batch_size = 4;
  execute.rescore.warmup_steps = 1;
  execute.bootstrap_resamples = 50;
  execute.quiet = true;
  return execute;
}

}  // namespace

TEST_CASE("a plan's stages distil in order, store their results and are not redone", "[search][distill]") {
  TempDir dir;
  auto execute = planned(dir, search::Strategy::Loo);
  const int64_t plan_id = execute.plan_id;
  store::ResultsStore results(execute.database);
  execute.stages = {1};  // its parent, stage 0, runs first
  const auto outcomes = search::execute_plan(execute);
  REQUIRE(outcomes.size() == 2);
  CHECK(outcomes[0].layout.find('M') != std::string::npos);
  CHECK(outcomes[1].layout == "MM");
  for (const auto& outcome : outcomes) {
    CHECK(outcome.metrics.at("curve").size() == 3);
    CHECK(outcome.metrics.at("eval").at("kl").at("mean").get<double>() > 0);
    CHECK(outcome.metrics.at("eval").contains("answer_accuracy"));
    // Per-sample values, in evaluation order, for the report's paired comparisons: their mean is the summary's.
    for (const char* metric : {"kl", "nll", "accuracy"}) {
      const auto values = outcome.metrics.at("eval_samples").at(metric).get<std::vector<double>>();
      REQUIRE(values.size() == 6);
      double mean = 0;
      for (const double value : values) mean += value / 6.0;
      CHECK(mean == Approx(outcome.metrics.at("eval").at(metric).at("mean").get<double>()));
    }
    for (const double correct : outcome.metrics.at("eval_samples").at("accuracy").get<std::vector<double>>())
      CHECK((correct == 0.0 || correct == 1.0));  // greedy generation's exact match, per sample
  }
  const auto stored = results.find_plan(plan_id);
  for (const auto& stage : stored.stages) {
    CHECK(stage.status == "done");
    const auto student = model::load_causal_lm(stage.checkpoint);
    CHECK(student->layout.to_string() == stage.layout);
  }
  // Done stages are read back, not trained again.
  const auto again = search::execute_plan(execute);
  CHECK(again[1].metrics == outcomes[1].metrics);
  execute.stages = {5};
  REQUIRE_ERROR(search::execute_plan(execute), "--stages: plan");
}

TEST_CASE("a paper-strategy stage is re-ranked on its parent student before it trains, once", "[search][distill]") {
  TempDir dir;
  const auto execute = planned(dir, search::Strategy::Paper);
  store::ResultsStore results(execute.database);
  REQUIRE(results.find_plan(execute.plan_id).stages.at(1).rescore);
  const auto outcomes = search::execute_plan(execute);
  REQUIRE(outcomes.size() == 2);
  CHECK_FALSE(outcomes[0].metrics.contains("rescore"));  // from the teacher: the scores' order
  // Stage 1 adds the parent's one remaining attention layer, probed on the parent.
  const auto& rescore = outcomes[1].metrics.at("rescore");
  CHECK(rescore.at("probes").size() == 1);
  CHECK(rescore.at("probes").begin().value().get<double>() > 0);
  CHECK(rescore.at("provisional_layout").get<std::string>() == "MM");
  const auto stored = results.find_plan(execute.plan_id).stages.at(1);
  CHECK_FALSE(stored.rescore);  // done: a resumed run trains the stored layout
  CHECK(stored.layout == "MM");
  CHECK(results.stage_metrics(stored.id).at("rescore") == rescore);
}

TEST_CASE("benchmarks evaluate the teacher and each stage, and a quality gate skips the stages after a failing one",
          "[search][distill][eval]") {
  TempDir dir;
  const auto teacher_dir = std::filesystem::path(HYBRIDIZE_SOURCE_DIR) / "configs" / "demo-teacher";
  auto execute = planned(dir, search::Strategy::Loo, teacher_dir);
  std::string lines;
  for (const auto& problem :
       data::synthetic::generate_split(data::synthetic::kDemoTask, data::synthetic::Split::Test, 8))
    lines +=
        nlohmann::json{{"question", problem.question}, {"answer", problem.answer}, {"kind", "numeric"}}.dump() + "\n";
  testing::write_text(dir / "bench.jsonl", lines);
  execute.eval_tasks = {data::read_eval_task(dir / "bench.jsonl")};
  execute.eval_settings.max_new_tokens = 48;
  // A learning rate that wrecks the first stage's student, and a gate that takes any drop.
  execute.settings.learning_rate = 5.0;
  execute.gate.max_drop_points = 0.1;
  const auto outcomes = search::execute_plan(execute);
  REQUIRE(outcomes.size() == 2);
  CHECK(outcomes[0].status == "done");
  REQUIRE(outcomes[1].status == "skipped");
  const std::string why = outcomes[1].metrics.at("gated");
  CHECK(why.find("stage 0: bench: pass@1") != std::string::npos);
  CHECK(why.find("points below the teacher's 100.0%") != std::string::npos);
  store::ResultsStore results(execute.database);
  const auto stages = results.find_plan(execute.plan_id).stages;
  CHECK(stages.at(1).status == "skipped");
  store::EvaluationStore evaluations(results);
  CHECK(evaluations.evaluations().size() == 2);  // the teacher and stage 0
  CHECK(evaluations.evaluations(stages.at(0).id).size() == 1);
  // Without the gate the skipped stage is distilled and evaluated; the others' evaluations are reused.
  execute.gate = {};
  const auto again = search::execute_plan(execute);
  CHECK(again.at(1).status == "done");
  CHECK(evaluations.evaluations().size() == 3);
  // A gate needs the benchmarks it judges.
  execute.eval_tasks.clear();
  execute.gate.stop_below_parent = true;
  REQUIRE_ERROR(search::execute_plan(execute), "a quality gate needs benchmark tasks");
}

TEST_CASE("the quality gate: points below the teacher, and below the parent beyond noise", "[search][eval]") {
  const auto generations = [](std::vector<int> correct) {
    std::vector<store::EvalSampleRecord> samples;
    for (std::size_t i = 0; i < correct.size(); ++i)
      samples.push_back({int64_t(i), 0, correct[i] ? "correct" : "wrong", false, 10, "", ""});
    return samples;
  };
  const std::vector<int> all(20, 1);
  std::vector<int> most(all), half(all);
  most[3] = 0;                                          // 95%
  for (std::size_t i = 0; i < 20; i += 2) half[i] = 0;  // 50%
  search::QualityGate gate;
  gate.max_drop_points = 10;
  CHECK_FALSE(search::gate_verdict(gate, {{"t", generations(all), {}, generations(most)}}, 0));
  const auto verdict = search::gate_verdict(gate, {{"t", generations(all), {}, generations(half)}}, 0);
  REQUIRE(verdict);
  CHECK(*verdict == "t: pass@1 50.0% is 50.0 points below the teacher's 100.0% (gate: 10.0)");
  gate = {0, true};
  // One problem lost of 20 is within noise; ten lost is not.
  CHECK_FALSE(search::gate_verdict(gate, {{"t", {}, generations(all), generations(most)}}, 0));
  const auto below = search::gate_verdict(gate, {{"t", {}, generations(all), generations(half)}}, 0);
  REQUIRE(below);
  CHECK(below->find("t: pass@1 fell 50.0 points below the parent stage's, beyond noise") == 0);
  CHECK_FALSE(search::gate_verdict(gate, {{"t", {}, generations(half), generations(all)}}, 0));
}
