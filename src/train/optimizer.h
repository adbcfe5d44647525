#pragma once
// One optimizer step the way every hybridize training run takes it: AdamW on
// the parameters chosen to train (fp32 master weights; a bf16 autocast forward
// on GPU leaves them fp32), gradient accumulation over micro-batches, clipping
// by global norm, the learning rate from the schedule, and a step whose loss
// or gradients are not finite skipped, counted, and fatal after a threshold.
#include <torch/nn/module.h>
#include <torch/optim/adamw.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "train/schedule.h"

namespace hybridize::train {

struct OptimizerConfig {
  LearningRateSchedule schedule;
  double weight_decay = 0.01;  // not applied to 1-D parameters (norms, biases, D)
  double beta1 = 0.9, beta2 = 0.95, eps = 1e-8;
  double max_grad_norm = 1.0;  // 0 = no clipping
  int64_t accumulation_steps = 1;
  int64_t max_consecutive_skips = 5;  // one more non-finite step than this stops training

  void validate() const;
};

// Which parameters train, by HF name ("model.layers.3.mixer.in_proj.weight").
using ParameterFilter = std::function<bool(const std::string& name)>;
ParameterFilter all_parameters();
// Parameters whose name starts with one of `prefixes` ("model.layers.3.mixer.").
ParameterFilter parameters_under(std::vector<std::string> prefixes);

struct StepReport {
  bool applied = false;     // false: skipped for a non-finite loss or gradient
  double grad_norm = 0;     // global norm before clipping
  double learning_rate = 0;
};

class Optimizer {
 public:
  // Parameters `trains` rejects are frozen (requires_grad false); those it
  // accepts must be fp32. Throws Error naming a non-fp32 one, or when none trains.
  Optimizer(torch::nn::Module& model, OptimizerConfig config, const ParameterFilter& trains = all_parameters());

  // Backpropagates one micro-batch's mean loss, scaled so that the
  // accumulation_steps micro-batches of a step average. A non-finite loss is
  // not backpropagated; it makes the step skip.
  void accumulate(const at::Tensor& loss);
  // After accumulation_steps calls to accumulate(): clips, updates or skips, clears gradients.
  StepReport step();

  int64_t steps_taken() const { return steps_; }  // applied + skipped: the schedule's position
  int64_t skipped_steps() const { return skipped_; }
  const std::vector<std::string>& trained_names() const { return names_; }

  // The AdamW moments and the counters, written atomically; load() needs an
  // optimizer over the same parameters.
  void save(const std::filesystem::path& file) const;
  void load(const std::filesystem::path& file);

 private:
  OptimizerConfig config_;
  std::vector<std::string> names_;
  std::vector<at::Tensor> parameters_;
  std::unique_ptr<torch::optim::AdamW> adamw_;
  int64_t micro_batches_ = 0;
  bool poisoned_ = false;  // a micro-batch of this step had a non-finite loss
  int64_t steps_ = 0, skipped_ = 0, consecutive_skips_ = 0;
};

}  // namespace hybridize::train
