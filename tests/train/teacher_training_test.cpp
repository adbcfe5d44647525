// Synthetic-task batches, checkpoints, and a tiny teacher's training resumed
// after a stop reaching bit-identical weights.
#include <torch/torch.h>

#include <set>

#include "catch.h"
#include "data/synthetic_vocabulary.h"
#include "model/weights.h"
#include "temp_dir.h"
#include "train/checkpoint.h"
#include "train/synthetic_batches.h"
#include "train/teacher_training.h"

using namespace hybridize;
using hybridize::testing::TempDir;
using hybridize::testing::write_text;
namespace synthetic = data::synthetic;

namespace {
train::TeacherTraining tiny_settings() {
  train::TeacherTraining s;
  s.shape = {2, 16, 2, 1, 32};
  s.steps = 6;
  s.batch = 4;
  s.warmup_steps = 2;
  s.train_problems = 64;
  s.seed = 11;
  return s;
}

train::TrainingRun run_in(const std::filesystem::path& dir, int64_t checkpoint_every,
                          std::optional<int64_t> stop_after = std::nullopt) {
  train::TrainingRun run;
  run.checkpoint_dir = dir;
  run.checkpoint_every = checkpoint_every;
  run.stop_after = stop_after;
  return run;
}

std::string decode_where(const at::Tensor& ids, const at::Tensor& mask) {
  const auto picked = ids.masked_select(mask);
  std::vector<data::TokenId> tokens(picked.data_ptr<int64_t>(), picked.data_ptr<int64_t>() + picked.numel());
  return synthetic::decode(tokens);
}

void require_same_weights(model::CausalLMImpl& a, model::CausalLMImpl& b) {
  const auto pa = a.named_parameters(), pb = b.named_parameters();
  REQUIRE(pa.size() == pb.size());
  for (const auto& item : pa) {
    INFO(item.key());
    CHECK(torch::equal(item.value(), pb[item.key()]));
  }
}
}  // namespace

TEST_CASE("a batch's masks select exactly the completion and the answer of each problem", "[train][teacher]") {
  const auto problems = synthetic::generate_split({}, synthetic::Split::Train, 3);
  const auto batch = train::make_batch(problems);
  const int64_t length = batch.input_ids.size(1);
  int64_t tokens = 0;
  for (int64_t b = 0; b < 3; ++b) {
    const auto& p = problems[b];
    const auto rows = [&](const at::Tensor& t) { return t.narrow(0, b * length, length); };
    CHECK(decode_where(rows(batch.targets), rows(batch.completion_mask)) == p.completion());
    CHECK(decode_where(rows(batch.targets), rows(batch.answer_mask)) == p.answer + "#" + p.answer + "$");
    // Inputs are the text shifted by one against the targets.
    const auto text = synthetic::encode(p.text());
    for (size_t t = 0; t + 1 < text.size(); ++t) {
      CHECK(batch.input_ids[b][t].item<int64_t>() == text[t]);
      CHECK(rows(batch.targets)[t].item<int64_t>() == text[t + 1]);
    }
    tokens += static_cast<int64_t>(text.size()) - 1;
  }
  CHECK(batch.tokens == tokens);
}

TEST_CASE("every epoch visits each problem once, in an order fixed by the seed", "[train][teacher]") {
  const std::size_t count = 37;
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    std::set<std::size_t> seen;
    for (std::size_t i = 0; i < count; ++i) seen.insert(train::sample_index(5, count, epoch * count + i));
    CHECK(seen.size() == count);
  }
  std::vector<std::size_t> first, again, other, next_epoch;
  for (std::size_t i = 0; i < count; ++i) {
    first.push_back(train::sample_index(5, count, i));
    other.push_back(train::sample_index(6, count, i));
    next_epoch.push_back(train::sample_index(5, count, count + i));
  }
  for (std::size_t i = 0; i < count; ++i) again.push_back(train::sample_index(5, count, i));
  CHECK(first == again);
  CHECK(first != other);
  CHECK(first != next_epoch);
}

TEST_CASE("training stopped and resumed ends with bit-identical weights", "[train][teacher]") {
  TempDir dir;
  const auto settings = tiny_settings();
  auto straight_run = run_in(dir / "straight", 2);
  std::vector<double> losses;
  straight_run.on_step = [&](const train::StepProgress& p) { losses.push_back(p.loss); };
  auto straight = train::train_teacher(settings, straight_run);
  REQUIRE(losses.size() == 6);
  CHECK(losses.back() < losses.front());  // it learns

  auto stopped_run = run_in(dir / "resumed", 2, 3);
  int64_t stopped_steps = 0;
  stopped_run.on_step = [&](const train::StepProgress&) { ++stopped_steps; };
  (void)train::train_teacher(settings, stopped_run);
  CHECK(stopped_steps == 3);
  const train::CheckpointDirectory checkpoints(dir / "resumed");
  REQUIRE(checkpoints.latest() == dir / "resumed" / "step-000003");

  // A half-written newer checkpoint (no `latest` pointing at it) is never picked up.
  std::filesystem::create_directories(dir / "resumed" / ".step-000004.partial" / "model");
  write_text(dir / "resumed" / ".step-000004.partial" / "state.json", "{");
  CHECK(checkpoints.latest() == dir / "resumed" / "step-000003");

  auto resumed_run = run_in(dir / "resumed", 2);
  std::vector<int64_t> resumed_steps;
  resumed_run.on_step = [&](const train::StepProgress& p) { resumed_steps.push_back(p.step); };
  auto resumed = train::train_teacher(settings, resumed_run);
  CHECK(resumed_steps == std::vector<int64_t>{4, 5, 6});
  require_same_weights(*straight, *resumed);
  // Only the newest checkpoint and its pointer remain.
  std::set<std::string> entries;
  for (const auto& e : std::filesystem::directory_iterator(dir / "resumed")) entries.insert(e.path().filename());
  CHECK(entries == std::set<std::string>{"latest", "step-000006"});

  // A different seed trains different weights (so equality above means something).
  auto other_settings = settings;
  other_settings.seed = 12;
  auto other = train::train_teacher(other_settings, run_in(dir / "other", 100));
  CHECK_FALSE(torch::equal(other->lm_head->weight, straight->lm_head->weight));
}

TEST_CASE("a checkpoint directory of another run, or a broken one, is refused naming why",
          "[train][teacher][bad-input]") {
  TempDir dir;
  auto settings = tiny_settings();
  (void)train::train_teacher(settings, run_in(dir / "run", 2, 2));
  auto changed = settings;
  changed.batch = 8;
  REQUIRE_ERROR(train::train_teacher(changed, run_in(dir / "run", 2)),
                "the checkpoint was trained with batch 4, not 8");
  write_text(dir / "run" / "latest", "step-000009\n");
  REQUIRE_ERROR(train::CheckpointDirectory(dir / "run").latest(), "checkpoint step-000009 has no state.json");
  write_text(dir / "run" / "latest", "../elsewhere\n");
  REQUIRE_ERROR(train::CheckpointDirectory(dir / "run").latest(), "expected a checkpoint name like step-000120");
  CHECK_FALSE(train::CheckpointDirectory(dir / "empty").latest().has_value());
  settings.shape.kv_heads = 3;
  REQUIRE_ERROR(train::train_teacher(settings, run_in(dir / "x", 2)),
                "teacher heads 2 is not a multiple of kv-heads 3");
}

TEST_CASE("teacher-forced accuracy counts a problem right only when all its answer tokens are", "[train][teacher]") {
  const auto problems = synthetic::generate_split({}, synthetic::Split::Validation, 5);
  auto settings = tiny_settings();
  model::CausalLM model(train::teacher_config(settings.shape, settings.task), model::Layout::all_attention(2),
                        at::TensorOptions().dtype(at::kFloat));
  // A model whose every logit is 0 except a bias towards one token predicts that token everywhere.
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) p.zero_();
  model->model->norm->weight.fill_(1);
  const auto eos = synthetic::kEosId;
  model->model->embed_tokens->weight.fill_(1);
  model->lm_head->weight[eos].fill_(1);
  const auto accuracy = train::teacher_forced_accuracy(*model, problems, 2);
  CHECK(accuracy.problems == 5);
  CHECK(accuracy.answers_correct == 0);  // the answer digit is never EOS
  // Exactly the EOS targets of the completion are right.
  CHECK(accuracy.completion_tokens_correct == 5);
  int64_t completion_tokens = 0;
  for (const auto& p : problems) completion_tokens += static_cast<int64_t>(p.completion().size());
  CHECK(accuracy.completion_tokens == completion_tokens);
}

TEST_CASE("the shipped demo teacher answers validation problems and needs its first layer's attention",
          "[train][teacher]") {
  const auto dir = std::filesystem::path(HYBRIDIZE_SOURCE_DIR) / "configs" / "demo-teacher";
  const train::TeacherTraining defaults;  // the settings that made it
  const auto problems = synthetic::generate_split(defaults.task, synthetic::Split::Validation, 100);
  auto teacher = model::load_causal_lm(dir);
  CHECK(teacher->config.vocab_size == synthetic::kVocabSize);
  CHECK(train::teacher_forced_accuracy(*teacher, problems).answer_accuracy() >= 0.95);
  const int64_t layers = teacher->config.num_layers;
  const std::string without_first = "I" + std::string(static_cast<std::size_t>(layers - 1), 'A');
  auto ablated =
      model::load_causal_lm(dir, {at::kFloat, at::kCPU, model::Layout::parse(without_first, layers, "test")});
  CHECK(train::teacher_forced_accuracy(*ablated, problems).answer_accuracy() < 0.5);
}
