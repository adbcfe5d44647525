// Stage distillation: what trains, that the loss falls, that a stopped stage
// resumes bit-identically, and the held-out evaluation's identities.
#include <torch/torch.h>

#include "model/weights.h"
#include "train/distillation.h"
#include "model/reference_models.h"
#include "temp_dir.h"

using namespace hybridize;
using hybridize::testing::reference_model;
using hybridize::testing::TempDir;

namespace {
struct Setup {
  model::CausalLM teacher = model::load_causal_lm(reference_model("mistral"));  // 2 layers, d_inner 96, d_xb 24
  train::SequenceSet data;
  train::DistillationSettings settings;
  Setup() {
    train::SequenceSpec spec;
    spec.split = "train";
    spec.samples = 24;
    data = train::load_sequences(spec, teacher->config.vocab_size);
    for (auto& parameter : teacher->parameters()) parameter.set_requires_grad(false);
    settings.steps = 12;
    settings.batch = 4;
    settings.warmup_steps = 2;
    settings.learning_rate = 1e-2;
    settings.d_state = 8;
  }
};
const auto kLayout = model::Layout::parse("MA", 2, "test");
}  // namespace

TEST_CASE("a stage trains only its mixers and lowers the distillation loss", "[train][distill]") {
  Setup s;
  TempDir dir;
  const auto result = train::distill_stage(*s.teacher, *s.teacher, kLayout, s.data, s.settings, {dir / "ckpt"});
  REQUIRE(result.curve.size() == 12);
  const double first = (result.curve[0] + result.curve[1]) / 2, last = (result.curve[10] + result.curve[11]) / 2;
  CHECK(last < 0.8 * first);
  CHECK(result.tokens > 0);
  const auto teacher_parameters = s.teacher->named_parameters();
  for (const auto& item : result.student->named_parameters()) {
    INFO(item.key());
    if (item.key().find(".mixer.") != std::string::npos) continue;
    CHECK(torch::equal(item.value(), teacher_parameters[item.key()].to(at::kFloat)));  // frozen: only mixers train
  }
}

TEST_CASE("a stage stopped and resumed ends with the weights of one run straight through", "[train][distill]") {
  Setup s;
  TempDir dir;
  const auto straight = train::distill_stage(*s.teacher, *s.teacher, kLayout, s.data, s.settings, {dir / "a"});
  train::TrainingRun interrupted{dir / "b"};
  interrupted.checkpoint_every = 5;
  interrupted.stop_after = 7;
  (void)train::distill_stage(*s.teacher, *s.teacher, kLayout, s.data, s.settings, interrupted);
  const auto resumed = train::distill_stage(*s.teacher, *s.teacher, kLayout, s.data, s.settings, {dir / "b"});
  CHECK(resumed.curve == straight.curve);
  const auto expected = straight.student->named_parameters();
  for (const auto& item : resumed.student->named_parameters()) {
    INFO(item.key());
    CHECK(torch::equal(item.value(), expected[item.key()]));
  }
  auto other = s.settings;
  other.learning_rate = 5e-3;
  REQUIRE_ERROR(train::distill_stage(*s.teacher, *s.teacher, kLayout, s.data, other, {dir / "b"}),
                "other stage settings");
}

TEST_CASE("evaluating the teacher against itself gives zero KL and its own NLL", "[train][distill]") {
  Setup s;
  const auto values = train::evaluate_student(*s.teacher, *s.teacher, s.data, 5);
  REQUIRE(values.at("kl").size() == 24);
  for (std::size_t i = 0; i < 24; ++i) {
    CHECK(std::abs(values.at("kl")[i]) < 1e-6);
    CHECK(values.at("nll")[i] == Approx(values.at("teacher_nll")[i]));
  }
}
