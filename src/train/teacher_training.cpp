#include "train/teacher_training.h"

#include <torch/torch.h>

#include "core/error.h"
#include "core/log.h"
#include "data/synthetic_vocabulary.h"
#include "train/checkpoint.h"
#include "train/initialize.h"
#include "train/losses.h"
#include "train/optimizer.h"
#include "train/synthetic_batches.h"

namespace hybridize::train {

namespace synthetic = data::synthetic;

io::TransformerConfig teacher_config(const TeacherShape& shape, const synthetic::TaskConfig& task) {
  const std::initializer_list<std::pair<const char*, int64_t>> sizes = {{"layers", shape.layers},
                                                                        {"hidden", shape.hidden},
                                                                        {"heads", shape.heads},
                                                                        {"kv-heads", shape.kv_heads},
                                                                        {"intermediate", shape.intermediate}};
  for (const auto& [name, value] : sizes)
    if (value <= 0) fail("teacher ", name, " must be positive, got ", value);
  if (shape.hidden % shape.heads != 0)
    fail("teacher hidden ", shape.hidden, " is not a multiple of heads ", shape.heads);
  if (shape.heads % shape.kv_heads != 0)
    fail("teacher heads ", shape.heads, " is not a multiple of kv-heads ", shape.kv_heads);
  synthetic::validate(task);
  const nlohmann::json json = {{"architectures", {"LlamaForCausalLM"}},
                               {"model_type", "llama"},
                               {"vocab_size", synthetic::kVocabSize},
                               {"hidden_size", shape.hidden},
                               {"intermediate_size", shape.intermediate},
                               {"num_hidden_layers", shape.layers},
                               {"num_attention_heads", shape.heads},
                               {"num_key_value_heads", shape.kv_heads},
                               {"max_position_embeddings", synthetic::max_problem_tokens(task)},
                               {"rms_norm_eps", 1e-5},
                               {"rope_theta", 10000.0},
                               {"tie_word_embeddings", false},
                               {"hidden_act", "silu"},
                               {"bos_token_id", synthetic::kBosId},
                               {"eos_token_id", synthetic::kEosId},
                               {"pad_token_id", synthetic::kPadId},
                               {"torch_dtype", "float32"}};
  return io::parse_transformer_config(json, "teacher settings");
}

void TeacherTraining::validate() const {
  (void)teacher_config(shape, task);
  OptimizationSettings::validate("");
  if (train_problems <= 0) fail("train problems must be positive, got ", train_problems);
}

nlohmann::json TeacherTraining::to_json() const {
  auto json = OptimizationSettings::to_json();
  json.update({{"layers", shape.layers},
               {"hidden", shape.hidden},
               {"heads", shape.heads},
               {"kv_heads", shape.kv_heads},
               {"intermediate", shape.intermediate},
               {"task",
                {{"min_steps", task.min_steps},
                 {"max_steps", task.max_steps},
                 {"modulus", task.modulus},
                 {"initial_variables", task.initial_variables},
                 {"variable_count", task.variable_count}}},
               {"seed", seed},
               {"train_problems", train_problems}});
  return json;
}

namespace {

// The first setting in which a checkpoint's run differs from this one.
void require_same_settings(const nlohmann::json& saved, const nlohmann::json& current, const std::string& where) {
  for (const auto& [key, value] : current.items()) {
    if (!saved.contains(key)) fail(where, ": the checkpoint has no setting '", key, "'");
    if (value.is_object()) {
      require_same_settings(saved.at(key), value, where);
      continue;
    }
    if (saved.at(key) != value)
      fail(where, ": the checkpoint was trained with ", key, " ", saved.at(key).dump(), ", not ", value.dump(),
           "; use another checkpoint directory or the same settings");
  }
}

}  // namespace

model::CausalLM train_teacher(const TeacherTraining& settings, const TrainingRun& run) {
  settings.validate();
  if (run.checkpoint_every <= 0) fail("checkpoint interval must be positive, got ", run.checkpoint_every);
  model::CausalLM teacher(teacher_config(settings.shape, settings.task),
                          model::Layout::all_attention(settings.shape.layers), at::TensorOptions().dtype(at::kFloat));
  initialize_weights(*teacher, settings.seed);
  Optimizer optimizer(*teacher, settings.optimizer_config());

  const auto problems = synthetic::generate_split(settings.task, synthetic::Split::Train,
                                                  static_cast<std::size_t>(settings.train_problems));
  const CheckpointDirectory checkpoints(run.checkpoint_dir);
  const auto settings_json = settings.to_json();
  if (const auto latest = checkpoints.latest()) {
    const auto state = CheckpointDirectory::restore(*latest, *teacher, optimizer);
    require_same_settings(state.at("settings"), settings_json, latest->string());
    log_info("resuming from ", latest->string(), " at step ", optimizer.steps_taken());
  }
  const auto head = head_of(*teacher);
  std::vector<synthetic::Problem> problems_of_batch(static_cast<std::size_t>(settings.batch));
  auto micro_batch = [&](int64_t step, int64_t micro) -> MicroBatchLoss {
    const int64_t first_sample = (step * settings.accumulation + micro) * settings.batch;
    for (int64_t i = 0; i < settings.batch; ++i)
      problems_of_batch[i] = problems[sample_index(settings.seed, problems.size(), first_sample + i)];
    const auto batch = make_batch(problems_of_batch);
    const auto hidden = teacher->model(batch.input_ids).flatten(0, 1);
    return {cross_entropy_loss(head, hidden, batch.targets, batch.completion_mask), batch.tokens};
  };
  auto checkpoint = [&](int64_t done) {
    checkpoints.save(done, *teacher, optimizer.state(),
                     {{"settings", settings_json}, {"samples_seen", done * settings.accumulation * settings.batch}});
  };
  run_steps(optimizer, settings.steps, settings.accumulation, run, micro_batch, nullptr, checkpoint);
  return teacher;
}

double TeacherForcedAccuracy::answer_accuracy() const {
  return problems > 0 ? static_cast<double>(answers_correct) / static_cast<double>(problems) : 0.0;
}

double TeacherForcedAccuracy::token_accuracy() const {
  return completion_tokens > 0 ? static_cast<double>(completion_tokens_correct) / static_cast<double>(completion_tokens)
                               : 0.0;
}

TeacherForcedAccuracy teacher_forced_accuracy(model::CausalLMImpl& model, std::span<const synthetic::Problem> problems,
                                              int64_t batch) {
  if (batch <= 0) fail("evaluation batch must be positive, got ", batch);
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  const auto head = head_of(model);
  const auto device = model.model->embed_tokens->weight.device();  // batches are made on the CPU
  TeacherForcedAccuracy out;
  for (std::size_t first = 0; first < problems.size(); first += static_cast<std::size_t>(batch)) {
    const auto part = problems.subspan(first, std::min<std::size_t>(batch, problems.size() - first));
    const auto tokens = make_batch(part);
    const auto predicted = token_argmax(head, model.model->forward(tokens.input_ids.to(device)).flatten(0, 1)).cpu();
    const auto right = predicted.eq(tokens.targets);
    out.completion_tokens += tokens.completion_mask.sum().item<int64_t>();
    out.completion_tokens_correct += right.logical_and(tokens.completion_mask).sum().item<int64_t>();
    // A problem's answer is right when no answer position is wrong.
    const auto wrong_answer_tokens =
        right.logical_not().logical_and(tokens.answer_mask).view({static_cast<int64_t>(part.size()), -1}).sum(1);
    out.answers_correct += wrong_answer_tokens.eq(0).sum().item<int64_t>();
    out.problems += static_cast<int64_t>(part.size());
  }
  model.train(was_training);
  return out;
}

}  // namespace hybridize::train
