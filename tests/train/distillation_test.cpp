// Stage distillation: what trains, that the loss falls, that a stopped stage
// resumes bit-identically, and the held-out evaluation's identities.
#include <torch/torch.h>

#include "model/mil.h"
#include "model/reference_models.h"
#include "model/weights.h"
#include "temp_dir.h"
#include "train/distillation.h"

using namespace hybridize;
using hybridize::testing::reference_model;
using hybridize::testing::TempDir;

namespace {
struct Setup {
  model::CausalLM teacher = model::load_causal_lm(reference_model("mistral"));  // 2 layers, d_inner 96, d_xb 24
  train::SequenceSet data;
  train::DistillationSettings settings;
  Setup() {
    data::SequenceSpec spec;
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
train::TrainingRun checkpointed_in(const std::filesystem::path& directory) {
  train::TrainingRun run;
  run.checkpoint_dir = directory;
  return run;
}
}  // namespace

TEST_CASE("a stage trains only its mixers and lowers the distillation loss", "[train][distill]") {
  Setup s;
  TempDir dir;
  const auto result =
      train::distill_stage(*s.teacher, *s.teacher, kLayout, s.data, s.settings, checkpointed_in(dir / "ckpt"));
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
  const auto straight =
      train::distill_stage(*s.teacher, *s.teacher, kLayout, s.data, s.settings, checkpointed_in(dir / "a"));
  auto interrupted = checkpointed_in(dir / "b");
  interrupted.checkpoint_every = 5;
  interrupted.stop_after = 7;
  (void)train::distill_stage(*s.teacher, *s.teacher, kLayout, s.data, s.settings, interrupted);
  const auto resumed =
      train::distill_stage(*s.teacher, *s.teacher, kLayout, s.data, s.settings, checkpointed_in(dir / "b"));
  CHECK(resumed.curve == straight.curve);
  const auto expected = straight.student->named_parameters();
  for (const auto& item : resumed.student->named_parameters()) {
    INFO(item.key());
    CHECK(torch::equal(item.value(), expected[item.key()]));
  }
  auto other = s.settings;
  other.learning_rate = 5e-3;
  REQUIRE_ERROR(train::distill_stage(*s.teacher, *s.teacher, kLayout, s.data, other, checkpointed_in(dir / "b")),
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

TEST_CASE("under bf16 autocast a stage keeps fp32 weights and follows the fp32 run's loss closely",
          "[train][distill]") {
  Setup s;
  TempDir dir;
  const auto fp32 =
      train::distill_stage(*s.teacher, *s.teacher, kLayout, s.data, s.settings, checkpointed_in(dir / "fp32"));
  auto settings = s.settings;
  settings.autocast = train::Autocast::On;
  const auto bf16 =
      train::distill_stage(*s.teacher, *s.teacher, kLayout, s.data, settings, checkpointed_in(dir / "bf16"));
  REQUIRE(bf16.curve.size() == fp32.curve.size());
  CHECK(bf16.curve != fp32.curve);                              // the forward pass did run in bf16
  CHECK(bf16.curve[0] == Approx(fp32.curve[0]).epsilon(0.01));  // same weights, bf16 rounding only
  CHECK(bf16.curve.back() == Approx(fp32.curve.back()).epsilon(0.03));
  CHECK(bf16.curve.back() < 0.8 * bf16.curve.front());
  for (const auto& item : bf16.student->named_parameters()) {
    INFO(item.key());
    CHECK(item.value().scalar_type() == at::kFloat);
  }
}

TEST_CASE("a stage trains fp32 copies of its mixers, shares its teacher's frozen tensors and ends in its precision",
          "[train][distill]") {
  Setup s;
  s.teacher->to(at::kBFloat16);
  std::map<std::string, at::Tensor> before;
  for (const auto& item : s.teacher->named_parameters()) before[item.key()] = item.value().clone();
  auto settings = s.settings;
  settings.steps = 3;
  settings.autocast = train::Autocast::On;
  TempDir dir;
  const auto result =
      train::distill_stage(*s.teacher, *s.teacher, kLayout, s.data, settings, checkpointed_in(dir / "ckpt"));
  const auto teacher_parameters = s.teacher->named_parameters();
  for (const auto& item : result.student->named_parameters()) {
    INFO(item.key());
    const bool fp32_by_design =
        item.key().find(".A_log") != std::string::npos || item.key().find(".D") != std::string::npos;
    CHECK(item.value().scalar_type() == (fp32_by_design ? at::kFloat : at::kBFloat16));
    if (item.key().find(".mixer.") != std::string::npos) continue;
    CHECK(item.value().data_ptr() == teacher_parameters[item.key()].data_ptr());  // shared, not copied
  }
  for (const auto& item : teacher_parameters) {
    INFO(item.key());
    CHECK(torch::equal(item.value(), before[item.key()]));  // training never wrote the teacher
  }
  // The mixer did train: its weights left their MIL initialisation.
  const auto fresh =
      model::derive_hybrid(*s.teacher, kLayout, model::mil_ssm_config(s.teacher->config, 8), settings.seed);
  CHECK_FALSE(torch::equal(result.student->named_parameters()["model.layers.0.mixer.in_proj.weight"],
                           fresh->named_parameters()["model.layers.0.mixer.in_proj.weight"]));
}

TEST_CASE("resuming a stage from a checkpoint of another parent is refused, naming the frozen tensor",
          "[train][distill][bad-input]") {
  Setup s;
  TempDir dir;
  auto interrupted = checkpointed_in(dir / "ckpt");
  interrupted.checkpoint_every = 2;
  interrupted.stop_after = 2;
  (void)train::distill_stage(*s.teacher, *s.teacher, kLayout, s.data, s.settings, interrupted);
  auto norm = s.teacher->named_parameters()["model.norm.weight"];
  {
    torch::NoGradGuard no_grad;
    norm.add_(0.5);
  }
  const auto changed = norm.clone();
  REQUIRE_ERROR(
      train::distill_stage(*s.teacher, *s.teacher, kLayout, s.data, s.settings, checkpointed_in(dir / "ckpt")),
      "tensor 'model.norm.weight' is frozen but differs from the model's");
  CHECK(torch::equal(norm, changed));  // the teacher shared with the student was not overwritten
}

TEST_CASE("a stage with activation checkpointing follows the plain run's curve and weights", "[train][distill]") {
  Setup s;
  TempDir dir;
  const auto plain =
      train::distill_stage(*s.teacher, *s.teacher, kLayout, s.data, s.settings, checkpointed_in(dir / "plain"));
  auto run = checkpointed_in(dir / "recompute");
  run.checkpoint_activations = true;
  const auto recomputed = train::distill_stage(*s.teacher, *s.teacher, kLayout, s.data, s.settings, run);
  REQUIRE(recomputed.curve.size() == plain.curve.size());
  for (std::size_t i = 0; i < plain.curve.size(); ++i)
    CHECK(recomputed.curve[i] == Approx(plain.curve[i]).epsilon(1e-6));
  const auto expected = plain.student->named_parameters();
  for (const auto& item : recomputed.student->named_parameters()) {
    INFO(item.key());
    CHECK(torch::allclose(item.value(), expected[item.key()], 1e-5, 1e-7));
  }
}

TEST_CASE("autocast settings: auto is off for a CPU fp32 teacher, on autocasts to bf16, others are refused",
          "[train][distill][bad-input]") {
  const auto fp32_weight = torch::zeros({2, 2});
  CHECK_FALSE(train::resolve_autocast(train::Autocast::Auto, fp32_weight).enabled);
  CHECK_FALSE(train::resolve_autocast(train::Autocast::Auto, fp32_weight.to(at::kBFloat16)).enabled);  // not CUDA
  CHECK_FALSE(train::resolve_autocast(train::Autocast::Off, fp32_weight).enabled);
  const auto on = train::resolve_autocast(train::Autocast::On, fp32_weight);
  CHECK(on.enabled);
  CHECK(on.dtype == at::kBFloat16);
  CHECK(train::parse_autocast(train::autocast_name(train::Autocast::Off)) == train::Autocast::Off);
  REQUIRE_ERROR(train::parse_autocast("bf16"), "--autocast: 'bf16' is not one of auto, on, off");
}

TEST_CASE("on CUDA with a bf16 teacher, autocast is on by default and the stage's model comes back in bf16",
          "[cuda][train][distill]") {
  Setup s;
  s.teacher->to(at::kCUDA, at::kBFloat16);
  TempDir dir;
  const auto automatic =
      train::distill_stage(*s.teacher, *s.teacher, kLayout, s.data, s.settings, checkpointed_in(dir / "auto"));
  auto settings = s.settings;
  settings.autocast = train::Autocast::Off;
  const auto fp32 =
      train::distill_stage(*s.teacher, *s.teacher, kLayout, s.data, settings, checkpointed_in(dir / "off"));
  CHECK(automatic.curve != fp32.curve);  // auto did switch autocast on
  CHECK(automatic.curve[0] == Approx(fp32.curve[0]).epsilon(0.03));
  CHECK(automatic.curve.back() < 0.8 * automatic.curve.front());
  for (const auto& item : automatic.student->named_parameters()) {
    INFO(item.key());
    const bool fp32_by_design =
        item.key().find(".A_log") != std::string::npos || item.key().find(".D") != std::string::npos;
    CHECK(item.value().scalar_type() == (fp32_by_design ? at::kFloat : at::kBFloat16));
    CHECK(item.value().is_cuda());
  }
}

TEST_CASE("the SFT loss is the student's cross-entropy on the counted targets, alone or beside the divergence",
          "[train][distill]") {
  Setup s;
  // One step over every sample, a student equal to its teacher: the first loss is the teacher's own.
  s.settings.steps = 1;
  s.settings.warmup_steps = 0;
  s.settings.batch = s.data.size();
  s.settings.trainable = train::Trainable::Everything;
  const auto same = model::Layout::parse("AA", 2, "test");
  // By hand: log-softmax of the full logits at each target, averaged over the counted positions (the
  // synthetic task's completions: the prompts' positions are masked out, as chat data's non-assistant spans are).
  double nll = 0;
  {
    torch::NoGradGuard no_grad;
    const auto log_probabilities = at::log_softmax(s.teacher->forward(s.data.input_ids).to(at::kDouble), -1);
    const auto picked = log_probabilities.gather(-1, s.data.targets.unsqueeze(-1)).squeeze(-1);
    nll = -(picked.masked_select(s.data.loss_mask).mean().item<double>());
  }
  REQUIRE(nll > 1);
  const auto first_loss = [&](train::StageLoss loss, double weight) {
    TempDir dir;
    s.settings.loss = loss;
    s.settings.ce_weight = weight;
    return train::distill_stage(*s.teacher, *s.teacher, same, s.data, s.settings, checkpointed_in(dir / "c"))
        .curve.at(0);
  };
  CHECK(first_loss(train::StageLoss::CrossEntropy, 1.0) == Approx(nll).epsilon(1e-5));
  CHECK(first_loss(train::StageLoss::Both, 0.5) == Approx(0.5 * nll).epsilon(1e-5));  // the KL is 0
  CHECK(first_loss(train::StageLoss::Divergence, 1.0) == Approx(0).margin(1e-6));
  CHECK(train::parse_stage_loss("kl+ce") == train::StageLoss::Both);
  REQUIRE_ERROR(train::parse_stage_loss("mse"), "--loss");
  s.settings.ce_weight = 0;
  REQUIRE_ERROR(s.settings.validate(), "--ce-weight must be a positive number, got 0");
}
