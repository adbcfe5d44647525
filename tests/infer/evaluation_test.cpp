// Evaluation through the engine: the demo teacher answers its task written as
// a task file; a sampled evaluation repeats from its seed whatever the batch,
// and a resumed one generates only what is missing, the same as uninterrupted.
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "catch.h"
#include "data/synthetic_task.h"
#include "data/synthetic_vocabulary.h"
#include "infer/evaluation.h"
#include "model/frozen_teacher.h"
#include "random_models.h"
#include "temp_dir.h"

using namespace hybridize;
using hybridize::testing::TempDir;
using hybridize::testing::write_text;

namespace {

// Synthetic problems as a task file: the question as the task writes it, the final value as a numeric answer.
std::filesystem::path write_synthetic_task(const std::filesystem::path& path, data::synthetic::Split split,
                                           std::size_t count) {
  std::string lines;
  for (const auto& problem : data::synthetic::generate_split(data::synthetic::kDemoTask, split, count))
    lines +=
        nlohmann::json{{"question", problem.question}, {"answer", problem.answer}, {"kind", "numeric"}}.dump() + "\n";
  write_text(path, lines);
  return path;
}

store::ModelRecord fake_record(const std::string& hash) { return {"model", hash, "llama", 4, 0}; }

std::vector<std::string> completions(store::ResultsStore& results, int64_t evaluation) {
  std::vector<std::string> texts;
  for (const auto& sample : store::EvaluationStore(results).samples(evaluation))
    texts.push_back(std::to_string(sample.problem) + "/" + std::to_string(sample.sample) + ": " + sample.completion);
  return texts;
}

}  // namespace

TEST_CASE("the demo's benchmark file is its task's test split, and the demo teacher answers it", "[infer][eval]") {
  TempDir dir;
  const auto source = std::filesystem::path(HYBRIDIZE_SOURCE_DIR) / "configs";
  const auto task = data::read_eval_task(source / "demo-tasks.jsonl");
  const auto problems = data::synthetic::generate_split(data::synthetic::kDemoTask, data::synthetic::Split::Test, 64);
  REQUIRE(task.problems.size() == problems.size());
  for (std::size_t i = 0; i < problems.size(); ++i) {
    CHECK(task.problems[i].question == problems[i].question);
    CHECK(task.problems[i].answer == problems[i].answer);
    CHECK(task.problems[i].kind == data::AnswerKind::Numeric);
  }
  const auto teacher_dir = source / "demo-teacher";
  auto teacher = model::load_frozen_teacher(teacher_dir, "cpu", "fp32");
  store::ResultsStore results(dir / "results.db");
  infer::EvalSettings settings;
  settings.max_new_tokens = 64;
  const auto outcome = infer::evaluate(results, *teacher.model, fake_record("teacher"), teacher_dir, task, settings);
  CHECK(outcome.generated == 64);
  CHECK(outcome.evaluation.settings.at("prompt_format") == "synthetic");
  CHECK(outcome.evaluation.status == "done");
  const auto& summary = outcome.summary;
  CHECK(summary.problems == 64);
  CHECK(summary.truncated == 0);
  // It writes its own traces right almost always (configs/demo-teacher/README.md).
  CHECK(summary.pass_at_1.value > 0.9);
  CHECK(summary.correct + summary.wrong + summary.no_answer == 64);
  for (const auto& sample : store::EvaluationStore(results).samples(outcome.evaluation.id)) {
    if (sample.outcome != "correct") continue;
    CHECK(sample.extracted == task.problems[std::size_t(sample.problem)].answer);
    // The completion is the trace and "#answer", its stop token '$' left out.
    CHECK(sample.completion.ends_with("#" + sample.extracted));
  }
  // Evaluated again: everything is in the store, nothing is generated.
  const auto again = infer::evaluate(results, *teacher.model, fake_record("teacher"), teacher_dir, task, settings);
  CHECK(again.generated == 0);
  CHECK(again.summary.pass_at_1.value == summary.pass_at_1.value);
  // Greedy generation draws nothing: another seed is the same evaluation.
  settings.seed = 9;
  CHECK(infer::evaluate(results, *teacher.model, fake_record("teacher"), teacher_dir, task, settings).evaluation.id ==
        outcome.evaluation.id);
}

TEST_CASE("a sampled evaluation repeats from its seed and resumes with only what is missing", "[infer][eval]") {
  TempDir dir;
  auto m = testing::random_model(testing::small_config({{"vocab_size", data::synthetic::kVocabSize}}));
  const auto task = data::read_eval_task(write_synthetic_task(dir / "train.jsonl", data::synthetic::Split::Train, 6));
  infer::EvalSettings settings;
  settings.samples = 3;
  settings.temperature = 1.0;
  settings.max_new_tokens = 10;
  settings.seed = 4;
  settings.max_batch = 4;

  store::ResultsStore first(dir / "first.db");
  const auto whole = infer::evaluate(first, *m, fake_record("m"), dir.path(), task, settings);
  CHECK(whole.generated == 18);
  CHECK(whole.summary.generations == 18);
  const auto expected = completions(first, whole.evaluation.id);
  // A random model writes no answer, but a generation of 10 tokens without '$' is truncated.
  CHECK(whole.summary.truncated > 0);

  // Another batch size and the same seed: the same generations.
  settings.max_batch = 7;
  store::ResultsStore second(dir / "second.db");
  const auto other_batch = infer::evaluate(second, *m, fake_record("m"), dir.path(), task, settings);
  CHECK(completions(second, other_batch.evaluation.id) == expected);

  // Generations lost to a kill (written in a batch that never committed) are made again, and only they.
  second.database().execute("DELETE FROM eval_samples WHERE problem IN (2, 5) OR (problem = 0 AND sample = 1)");
  second.database().execute("UPDATE evaluations SET status = 'running'");
  const auto resumed = infer::evaluate(second, *m, fake_record("m"), dir.path(), task, settings);
  CHECK(resumed.evaluation.id == other_batch.evaluation.id);
  CHECK(resumed.generated == 7);
  CHECK(completions(second, resumed.evaluation.id) == expected);
  CHECK(resumed.summary.pass_at_1.value == whole.summary.pass_at_1.value);

  // Another seed is another evaluation, with other draws.
  settings.seed = 5;
  const auto reseeded = infer::evaluate(second, *m, fake_record("m"), dir.path(), task, settings);
  CHECK(reseeded.evaluation.id != resumed.evaluation.id);
  CHECK(completions(second, reseeded.evaluation.id) != expected);
}

TEST_CASE("evaluation refuses what it cannot measure, by name", "[infer][eval][bad-input]") {
  TempDir dir;
  const auto task = data::read_eval_task(write_synthetic_task(dir / "t.jsonl", data::synthetic::Split::Train, 2));
  store::ResultsStore results(dir / "results.db");
  infer::EvalSettings settings;
  settings.max_new_tokens = 4;
  // No tokenizer.json, and not the synthetic task's vocabulary.
  auto other = testing::random_model(testing::small_config(), at::kFloat);
  REQUIRE_ERROR(infer::evaluate(results, *other, fake_record("o"), dir.path(), task, settings),
                "no tokenizer.json, so eval cannot write its prompts");
  auto m = testing::random_model(testing::small_config({{"vocab_size", data::synthetic::kVocabSize}}));
  settings.samples = 2;
  REQUIRE_ERROR(infer::evaluate(results, *m, fake_record("m"), dir.path(), task, settings),
                "2 samples a problem need a temperature above 0");
  settings.samples = 1;
  std::string long_question;
  for (int i = 0; i < 80; ++i) long_question += "a=1;";
  write_text(dir / "long.jsonl",
             nlohmann::json{{"question", long_question + "?a"}, {"answer", "1"}, {"kind", "numeric"}}.dump());
  REQUIRE_ERROR(
      infer::evaluate(results, *m, fake_record("m"), dir.path(), data::read_eval_task(dir / "long.jsonl"), settings),
      "long.jsonl: line 1: problem line 1's prompt has 324 tokens, leaving no room to answer in the model's "
      "context of 256");
}
