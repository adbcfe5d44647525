// A plan executed end to end on the CPU: scores -> plan -> stages, resumable,
// each stage's student saved as an Apriel-H checkpoint and evaluated.
#include <torch/torch.h>

#include "model/weights.h"
#include "search/plan_executor.h"
#include "search/planner.h"
#include "search/score_driver.h"
#include "model/reference_models.h"
#include "temp_dir.h"

using namespace hybridize;
using hybridize::testing::reference_model;
using hybridize::testing::TempDir;

namespace {

// The mistral reference (2 layers) scored by LOO into `dir`/results.db, a plan
// of `strategy` for 1 and 2 Mamba layers saved there, and options that distil
// it in a few steps.
search::ExecuteOptions planned(const TempDir& dir, search::Strategy strategy) {
  search::ScoreOptions score;
  score.model_dir = reference_model("mistral");
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
