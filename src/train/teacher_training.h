#pragma once
// Training a small Llama-family teacher from scratch on the built-in synthetic
// reasoning task (the demo's teacher), and its teacher-forced evaluation.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>

#include "data/synthetic_task.h"
#include "model/causal_lm.h"
#include "train/optimizer.h"
#include "train/training_run.h"

namespace hybridize::train {

struct TeacherShape {
  int64_t layers = 8;
  int64_t hidden = 64;
  int64_t heads = 4;
  int64_t kv_heads = 2;
  int64_t intermediate = 128;
};

// A LlamaForCausalLM config over the synthetic vocabulary, long enough for the task's longest problem.
io::TransformerConfig teacher_config(const TeacherShape& shape, const data::synthetic::TaskConfig& task);

// Everything that fixes a run's result: a resumed run must have the same.
// The defaults make the demo teacher (configs/demo-teacher/README.md). Its task
// is easier than the generator's defaults so that a teacher of this size learns
// it within CPU minutes (that README says what the harder settings gave).
// Its steps, batch (problems per micro-batch) and schedule are its OptimizationSettings.
struct TeacherTraining : OptimizationSettings {
  TeacherTraining()
      : OptimizationSettings{.steps = 5000,
                             .batch = 32,
                             .learning_rate = 5e-3,
                             .min_learning_rate = 5e-4,
                             .warmup_steps = 100,
                             .weight_decay = 0.01} {}

  TeacherShape shape;
  data::synthetic::TaskConfig task = data::synthetic::kDemoTask;
  uint64_t seed = 1;  // weights and data order
  int64_t train_problems = 20000;

  // Throws Error naming the setting that is out of range.
  void validate() const;
  nlohmann::json to_json() const;
};

// Trains (or resumes and finishes) the teacher; returns it. Throws Error when
// the checkpoint directory holds a run with other settings, naming the setting.
model::CausalLM train_teacher(const TeacherTraining& settings, const TrainingRun& run);

struct TeacherForcedAccuracy {
  int64_t problems = 0;
  int64_t answers_correct = 0;  // every answer token (digits and EOS) is the argmax given the gold text before it
  int64_t completion_tokens = 0;
  int64_t completion_tokens_correct = 0;

  double answer_accuracy() const;
  double token_accuracy() const;
};

TeacherForcedAccuracy teacher_forced_accuracy(model::CausalLMImpl& model,
                                              std::span<const data::synthetic::Problem> problems, int64_t batch = 64);

}  // namespace hybridize::train
