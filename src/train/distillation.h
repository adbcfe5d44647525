#pragma once
// One distillation stage, the way Apriel-H1 made each hybrid: the student is
// the parent (the teacher or the previous stage's student) with the stage's
// layout, its newly replaced layers MIL-initialised from their attention, and
// it learns to match the frozen teacher's next-token distributions on the
// run's trace data (reverse KL by default). Checkpointed and resumable.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "model/causal_lm.h"
#include "train/losses.h"
#include "train/mixed_precision.h"
#include "train/optimizer.h"
#include "train/sequence_set.h"
#include "train/training_run.h"

namespace hybridize::train {

// Which parameters a stage trains.
enum class Trainable {
  NewMixers,  // only the mixers this stage replaced
  Mixers,     // every Mamba mixer of the student
  Everything,
};
Trainable parse_trainable(const std::string& name);
const char* trainable_name(Trainable trainable);

// What a stage's loss is made of: the divergence from the teacher (the
// distillation stages), next-token cross-entropy on the data's counted
// targets (the final SFT on reasoning traces: the assistant spans of
// `data tokenize` output), or both, the cross-entropy weighted by ce_weight.
enum class StageLoss { Divergence, CrossEntropy, Both };
// "kl", "ce" or "kl+ce"; throws Error naming --loss otherwise.
StageLoss parse_stage_loss(const std::string& name);
const char* stage_loss_name(StageLoss loss);

// A stage's steps, batch and schedule are its OptimizationSettings.
struct DistillationSettings : OptimizationSettings {
  DistillationSettings()
      : OptimizationSettings{.steps = 200,
                             .batch = 16,
                             .learning_rate = 1e-3,
                             .min_learning_rate = 1e-4,
                             .warmup_steps = 20,
                             .weight_decay = 0.0} {}

  Divergence divergence = Divergence::ReverseKL;
  double temperature = 1.0;
  StageLoss loss = StageLoss::Divergence;
  double ce_weight = 1.0;  // of the cross-entropy beside the divergence (kl+ce)
  Trainable trainable = Trainable::Mixers;
  int64_t d_state = 16;
  uint64_t seed = 1;                   // fresh mixer parts and data order
  Autocast autocast = Autocast::Auto;  // bf16 autocast of the student's forward pass

  void validate() const;  // throws Error naming the setting
  nlohmann::json to_json() const;
};

struct StageResult {
  model::CausalLM student{nullptr};
  std::vector<double> curve;  // loss per step of this invocation and the checkpointed ones before it
  int64_t tokens = 0;         // counted tokens trained on
  // This invocation's training alone (a resumed run's earlier steps and the
  // checkpoint writes excluded): what its tokens/s are measured over.
  int64_t tokens_this_run = 0;
  double step_seconds = 0;
};

// The student of `layout` from `parent`, distilled from `teacher` on `data`.
// All three share the config (the SSM settings are made with MIL widths).
StageResult distill_stage(model::CausalLMImpl& teacher, model::CausalLMImpl& parent, const model::Layout& layout,
                          const SequenceSet& data, const DistillationSettings& settings, const TrainingRun& run);

// Per held-out sample: kl = KL(teacher || student) and the student's nll; the
// teacher's nll beside them, for the same samples.
std::map<std::string, std::vector<double>> evaluate_student(model::CausalLMImpl& teacher, model::CausalLMImpl& student,
                                                            const SequenceSet& data, int64_t batch);

}  // namespace hybridize::train
