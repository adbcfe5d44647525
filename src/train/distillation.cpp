#include "train/distillation.h"

#include <torch/torch.h>

#include <cmath>

#include "core/error.h"
#include "core/log.h"
#include "core/spelling.h"
#include "model/mil.h"
#include "model/weights.h"
#include "train/checkpoint.h"
#include "train/optimizer.h"
#include "train/sample_metrics.h"
#include "train/synthetic_batches.h"

namespace hybridize::train {

namespace {
constexpr Spelling<Trainable> kTrainable[] = {
    {Trainable::NewMixers, "new-mixers"}, {Trainable::Mixers, "mixers"}, {Trainable::Everything, "all"}};
constexpr Spelling<StageLoss> kStageLoss[] = {
    {StageLoss::Divergence, "kl"}, {StageLoss::CrossEntropy, "ce"}, {StageLoss::Both, "kl+ce"}};
}  // namespace

StageLoss parse_stage_loss(const std::string& name) { return parse_spelling(kStageLoss, name, "--loss"); }

const char* stage_loss_name(StageLoss loss) { return spelling_of(kStageLoss, loss); }

Trainable parse_trainable(const std::string& name) { return parse_spelling(kTrainable, name, "--train"); }

const char* trainable_name(Trainable trainable) { return spelling_of(kTrainable, trainable); }

void DistillationSettings::validate() const {
  OptimizationSettings::validate("distillation ");
  if (temperature <= 0) fail("distillation temperature must be positive, got ", temperature);
  if (d_state <= 0) fail("d_state must be positive, got ", d_state);
  if (!(ce_weight > 0) || !std::isfinite(ce_weight)) fail("--ce-weight must be a positive number, got ", ce_weight);
}

nlohmann::json DistillationSettings::to_json() const {
  auto json = OptimizationSettings::to_json();
  json.update({{"divergence", divergence_key(divergence)},
               {"temperature", temperature},
               {"train", trainable_name(trainable)},
               {"d_state", d_state},
               {"seed", seed},
               {"autocast", autocast_name(autocast)}});
  // Only where it is not plain distillation, so the checkpoints of distillation stages keep their settings.
  if (loss != StageLoss::Divergence) json.update({{"loss", stage_loss_name(loss)}, {"ce_weight", ce_weight}});
  return json;
}

namespace {

ParameterFilter trainable_filter(Trainable trainable, const model::Layout& parent, const model::Layout& layout) {
  if (trainable == Trainable::Everything) return all_parameters();
  std::vector<std::string> prefixes;
  for (int64_t i = 0; i < layout.size(); ++i) {
    if (layout[i] != model::MixerKind::Mamba) continue;
    if (trainable == Trainable::NewMixers && parent[i] == model::MixerKind::Mamba) continue;
    prefixes.push_back("model.layers." + std::to_string(i) + ".mixer.");
  }
  if (prefixes.empty()) fail("--train ", trainable_name(trainable), ": the stage has no such mixers to train");
  return parameters_under(std::move(prefixes));
}

}  // namespace

StageResult distill_stage(model::CausalLMImpl& teacher, model::CausalLMImpl& parent, const model::Layout& layout,
                          const SequenceSet& data, const DistillationSettings& settings, const TrainingRun& run) {
  settings.validate();
  if (run.checkpoint_every <= 0) fail("checkpoint interval must be positive, got ", run.checkpoint_every);
  const auto& teacher_weight = teacher.model->embed_tokens->weight;
  const at::Device device = teacher_weight.device();
  const auto autocast = resolve_autocast(settings.autocast, teacher_weight);
  const auto trains = trainable_filter(settings.trainable, parent.layout, layout);
  // What trains gets fp32 master weights. What stays frozen remains the
  // parent's own tensors (the teacher's, through any earlier stages): no copy
  // of a 15B model's frozen 30 GB. Without autocast the forward needs one
  // precision, so frozen tensors are shared only when they are fp32 already.
  model::Derivation derivation;
  derivation.dtype = at::kFloat;
  if (autocast.enabled || parent.model->embed_tokens->weight.scalar_type() == at::kFloat)
    derivation.share = [&trains](const std::string& name) { return !trains(name); };
  StageResult result;
  result.student = model::derive_hybrid(parent, layout, model::mil_ssm_config(teacher.config, settings.d_state),
                                        settings.seed, derivation);
  result.student->train();
  result.student->model->checkpoint_layers = run.checkpoint_activations;

  const auto config = settings.optimizer_config();
  const int ranks = run.parallel.ranks(), rank = run.parallel.rank();
  if (settings.batch % ranks != 0)
    fail("--batch ", settings.batch, " does not split evenly over ", ranks, " ranks (WORLD_SIZE)");
  const int64_t share = settings.batch / ranks;
  Optimizer optimizer(*result.student, config, trains, run.parallel);

  const CheckpointDirectory checkpoints(run.checkpoint_dir);
  const auto settings_json = settings.to_json();
  if (const auto latest = checkpoints.latest()) {
    const auto state = CheckpointDirectory::restore(*latest, *result.student, optimizer);
    if (state.at("settings") != settings_json || state.at("layout") != layout.to_string())
      fail(latest->string(), ": the checkpoint was made with other stage settings or layout; use another directory");
    result.curve = state.at("curve").get<std::vector<double>>();
    result.tokens = state.at("tokens").get<int64_t>();
    log_info("resuming stage ", layout.to_string(), " from ", latest->string(), " at step ", optimizer.steps_taken());
  }
  const auto teacher_head = head_of(teacher), student_head = head_of(*result.student);
  std::vector<int64_t> rows(static_cast<std::size_t>(settings.batch));
  auto micro_batch = [&](int64_t step, int64_t micro) -> MicroBatchLoss {
    const int64_t first_sample = (step * settings.accumulation + micro) * settings.batch;
    for (int64_t i = 0; i < settings.batch; ++i)
      rows[std::size_t(i)] = int64_t(sample_index(settings.seed, std::size_t(data.size()), first_sample + i));
    // Every rank knows the whole global micro-batch, so its token count needs no communication.
    const int64_t global_tokens = data.loss_mask.index_select(0, at::tensor(rows)).sum().item<int64_t>();
    const std::vector<int64_t> own_rows(rows.begin() + rank * share, rows.begin() + (rank + 1) * share);
    const auto batch = data.gather(own_rows, device);
    at::Tensor student_hidden;
    {
      const model::AutocastRegion region(device.type(), autocast);
      student_hidden = loss_hidden(result.student->model->forward(batch.input_ids).flatten(0, 1), autocast);
    }
    const auto mask = batch.loss_mask.flatten();
    at::Tensor loss;
    if (settings.loss != StageLoss::CrossEntropy) {  // a cross-entropy stage needs no teacher forward
      at::Tensor teacher_hidden;
      {
        torch::NoGradGuard no_grad;
        teacher_hidden = teacher.model->forward(batch.input_ids).flatten(0, 1);
      }
      loss = distillation_loss(teacher_head, teacher_hidden, student_head, student_hidden, mask, settings.divergence,
                               settings.temperature, global_tokens);
    }
    if (settings.loss != StageLoss::Divergence) {
      const auto ce = cross_entropy_loss(student_head, student_hidden, batch.targets.flatten(), mask, global_tokens);
      loss = loss.defined() ? loss + settings.ce_weight * ce : ce;
    }
    return {loss, global_tokens};
  };
  auto after_step = [&](const StepProgress& step) {
    result.curve.push_back(step.loss);
    result.tokens += step.tokens;
    result.tokens_this_run += step.tokens;
  };
  auto checkpoint = [&](int64_t done) {
    const auto optimizer_state = optimizer.state();  // every rank takes part when the moments are sharded
    if (run.parallel.leader())
      checkpoints.save(done, *result.student, optimizer_state,
                       {{"settings", settings_json},
                        {"layout", layout.to_string()},
                        {"curve", result.curve},
                        {"tokens", result.tokens}});
  };
  result.step_seconds =
      run_steps(optimizer, settings.steps, settings.accumulation, run, micro_batch, after_step, checkpoint);
  result.student->eval();
  // The stage's model in the teacher's precision, as saving and loading it would give it.
  model::cast_to_precision(*result.student, teacher_weight.scalar_type());
  return result;
}

std::map<std::string, std::vector<double>> evaluate_student(model::CausalLMImpl& teacher, model::CausalLMImpl& student,
                                                            const SequenceSet& data, int64_t batch) {
  if (batch <= 0) fail("evaluation batch must be positive, got ", batch);
  torch::NoGradGuard no_grad;
  const at::Device device = teacher.model->embed_tokens->weight.device();
  const auto teacher_head = head_of(teacher), student_head = head_of(student);
  std::map<std::string, std::vector<double>> values;
  for (int64_t begin = 0; begin < data.size(); begin += batch) {
    const auto part = data.batch(begin, std::min(data.size(), begin + batch), device);
    const auto tokens = counted_tokens(part.loss_mask);
    const auto targets = part.targets.flatten().index_select(0, tokens.flat_index);
    const auto teacher_hidden = tokens.select(teacher.model->forward(part.input_ids));
    const auto student_hidden = tokens.select(student.model->forward(part.input_ids));
    const int64_t samples = part.input_ids.size(0);
    auto append = [&](const char* metric, const at::Tensor& per_token) {
      const auto means = per_sample_mean(per_token, tokens.rows, samples);
      values[metric].insert(values[metric].end(), means.begin(), means.end());
    };
    append("kl", token_kl(teacher_head, teacher_hidden, student_head, student_hidden, Divergence::ForwardKL));
    append("nll", token_nll(student_head, student_hidden, targets));
    append("teacher_nll", token_nll(teacher_head, teacher_hidden, targets));
  }
  return values;
}

}  // namespace hybridize::train
