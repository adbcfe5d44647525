#pragma once
// One optimizer step the way every hybridize training run takes it: AdamW on
// the parameters chosen to train (fp32 master weights; a bf16 autocast forward
// on GPU leaves them fp32), gradient accumulation over micro-batches, clipping
// by global norm, the learning rate from the schedule, and a step whose loss
// or gradients are not finite skipped, counted, and fatal after a threshold.
// Data-parallel over a process group: gradients summed over the ranks in
// buckets during the last micro-batch's backward, and optionally (ZeRO-1) each
// rank keeping the AdamW moments of its share of the parameters only.
#include <torch/nn/module.h>
#include <torch/optim/adamw.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dist/process_group.h"
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

// What every training run sets of its optimisation (teacher training and
// distillation stages derive from it, each with its own defaults). The JSON
// keys are part of stored run identities.
struct OptimizationSettings {
  int64_t steps = 0;
  int64_t batch = 0;  // samples (or problems) per micro-batch
  int64_t accumulation = 1;
  double learning_rate = 0;
  double min_learning_rate = 0;  // the cosine decay's floor
  int64_t warmup_steps = 0;
  double weight_decay = 0;
  double max_grad_norm = 1.0;

  // The optimizer's configuration: warm-up and cosine decay over `steps`.
  OptimizerConfig optimizer_config() const;
  // Throws Error naming the setting, its name after `prefix` ("distillation steps must be positive").
  void validate(const std::string& prefix) const;
  nlohmann::json to_json() const;
};

// Which parameters train, by HF name ("model.layers.3.mixer.in_proj.weight").
using ParameterFilter = std::function<bool(const std::string& name)>;
ParameterFilter all_parameters();
// Parameters whose name starts with one of `prefixes` ("model.layers.3.mixer.").
ParameterFilter parameters_under(std::vector<std::string> prefixes);

struct DataParallel {
  std::shared_ptr<const dist::ProcessGroup> group;  // null (or one rank): a single process
  // ZeRO-1: each rank keeps the moments of its parameters only, updates them
  // and broadcasts them to the others. The same steps as unsharded, bit for bit.
  bool shard_optimizer_state = false;
  int64_t bucket_bytes = int64_t(25) << 20;  // gradient all-reduce buckets

  bool distributed() const { return group && group->size() > 1; }
  int rank() const { return distributed() ? group->rank() : 0; }
  int ranks() const { return distributed() ? group->size() : 1; }
  bool leader() const { return rank() == 0; }  // rank 0 alone writes checkpoints and the store
};

struct StepReport {
  bool applied = false;  // false: skipped for a non-finite loss or gradient
  double grad_norm = 0;  // global norm before clipping
  double learning_rate = 0;
};

class Optimizer {
 public:
  // Parameters `trains` rejects are frozen (requires_grad false); those it
  // accepts must be fp32. Throws Error naming a non-fp32 one, or when none trains.
  // Data-parallel: the trained parameters start as rank 0's.
  Optimizer(torch::nn::Module& model, OptimizerConfig config, const ParameterFilter& trains = all_parameters(),
            DataParallel parallel = {});
  ~Optimizer();

  // Backpropagates one micro-batch's mean loss, scaled so that the
  // accumulation_steps micro-batches of a step average. A non-finite loss is
  // not backpropagated; it makes the step skip. Data-parallel: every rank
  // calls it with its share of the loss (its tokens' sum over the global
  // micro-batch's token count); the returned loss is the sum over the ranks,
  // and a non-finite one anywhere skips the step everywhere.
  double accumulate(const at::Tensor& loss);
  // After accumulation_steps calls to accumulate(): clips, updates or skips, clears gradients.
  StepReport step();

  int64_t steps_taken() const { return steps_; }  // applied + skipped: the schedule's position
  int64_t skipped_steps() const { return skipped_; }
  const std::vector<std::string>& trained_names() const { return names_; }

  // The AdamW moments and the counters, serialized; load() needs an optimizer
  // over the same parameters. In a job only rank 0 gets the bytes (the others
  // get none: it alone writes checkpoints). Sharded, state() is collective
  // (every rank calls it) and gathers all moments to rank 0; the file is the
  // unsharded one, so a checkpoint resumes at any world size, and load() on
  // each rank keeps its own parameters' moments.
  std::string state() const;
  void save(const std::filesystem::path& file) const;  // state(), written atomically
  void load(const std::filesystem::path& file);

 private:
  std::unique_ptr<torch::optim::AdamW> make_adamw(const std::vector<bool>& selected) const;
  bool owns(std::size_t parameter) const;

  OptimizerConfig config_;
  DataParallel parallel_;
  std::vector<std::string> names_;
  std::vector<at::Tensor> parameters_;
  std::vector<int> owners_;                     // sharded: the rank that updates each parameter
  std::unique_ptr<torch::optim::AdamW> adamw_;  // over the parameters this rank updates; null when none
  std::unique_ptr<class GradientReducer> reducer_;
  int64_t micro_batches_ = 0;
  bool poisoned_ = false;  // a micro-batch of this step had a non-finite loss
  int64_t steps_ = 0, skipped_ = 0, consecutive_skips_ = 0;
};

}  // namespace hybridize::train
