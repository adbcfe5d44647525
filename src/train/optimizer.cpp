#include "train/optimizer.h"

#include <ATen/ops/_foreach_mul.h>
#include <ATen/ops/_foreach_norm.h>
#include <ATen/ops/_fused_adamw.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/serialize.h>

#include <cmath>
#include <limits>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "train/gradient_reducer.h"
#include "train/optimizer_shards.h"

namespace hybridize::train {

void OptimizerConfig::validate() const {
  schedule.validate();
  if (!(weight_decay >= 0)) fail("weight decay must be >= 0, got ", weight_decay);
  if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1))
    fail("AdamW betas must lie in [0, 1), got ", beta1, ", ", beta2);
  if (!(eps > 0)) fail("AdamW eps must be positive, got ", eps);
  if (!(max_grad_norm >= 0)) fail("max gradient norm must be >= 0, got ", max_grad_norm);
  if (accumulation_steps <= 0) fail("gradient accumulation steps must be positive, got ", accumulation_steps);
  if (max_consecutive_skips < 0) fail("max consecutive skipped steps must be >= 0, got ", max_consecutive_skips);
}

namespace {

// On CUDA, clipping and AdamW run as ATen's multi-tensor kernels (what
// torch.nn.utils.clip_grad_norm_(foreach=True) and torch.optim.AdamW(fused=True)
// run): a few launches over all parameters instead of a chain of element-wise
// kernels per parameter, about a tenth of a 1B model's training step.
// The CPU keeps LibTorch's per-parameter path, whose steps the tests pin bit for bit.

// The global L2 norm of the gradients; scales them by max_norm / (norm + 1e-6)
// where that is below 1, as torch::nn::utils::clip_grad_norm_ does.
double clip_gradients_fused(const std::vector<at::Tensor>& parameters, double max_norm) {
  std::vector<at::Tensor> grads;
  for (const auto& parameter : parameters)
    if (parameter.grad().defined()) grads.push_back(parameter.grad());
  if (grads.empty()) return 0;
  const double norm = at::stack(at::_foreach_norm(grads, 2)).norm().item<double>();
  const double scale = max_norm / (norm + 1e-6);
  if (std::isfinite(norm) && scale < 1) at::_foreach_mul_(grads, scale);
  return norm;
}

// One AdamW step of every parameter with a gradient, on the moments kept in
// `adamw`'s own state (created as its step() would), so that save() and load()
// see the same state either way.
void adamw_step_fused(torch::optim::AdamW& adamw) {
  for (auto& group : adamw.param_groups()) {
    const auto& options = static_cast<const torch::optim::AdamWOptions&>(group.options());
    std::vector<at::Tensor> params, grads, exp_avgs, exp_avg_sqs;
    std::vector<float> steps;
    for (auto& parameter : group.params()) {
      if (!parameter.grad().defined()) continue;
      auto& slot = adamw.state()[parameter.unsafeGetTensorImpl()];
      if (!slot) {
        auto state = std::make_unique<torch::optim::AdamWParamState>();
        state->exp_avg(torch::zeros_like(parameter, at::MemoryFormat::Preserve));
        state->exp_avg_sq(torch::zeros_like(parameter, at::MemoryFormat::Preserve));
        slot = std::move(state);
      }
      auto& state = static_cast<torch::optim::AdamWParamState&>(*slot);
      state.step(state.step() + 1);
      params.push_back(parameter);
      grads.push_back(parameter.grad());
      exp_avgs.push_back(state.exp_avg());
      exp_avg_sqs.push_back(state.exp_avg_sq());
      steps.push_back(float(state.step()));
    }
    if (params.empty()) continue;
    // The kernel reads each parameter's step count from device memory.
    const auto step_counts = at::tensor(steps).to(params.front().device()).unbind();
    const auto [beta1, beta2] = options.betas();
    at::_fused_adamw_(params, grads, exp_avgs, exp_avg_sqs, {}, step_counts, options.lr(), beta1, beta2,
                      options.weight_decay(), options.eps(), /*amsgrad=*/false, /*maximize=*/false);
  }
}

}  // namespace

OptimizerConfig OptimizationSettings::optimizer_config() const {
  OptimizerConfig config;
  config.schedule = {learning_rate, warmup_steps, steps, min_learning_rate};
  config.weight_decay = weight_decay;
  config.max_grad_norm = max_grad_norm;
  config.accumulation_steps = accumulation;
  return config;
}

void OptimizationSettings::validate(const std::string& prefix) const {
  if (steps <= 0) fail(prefix, "steps must be positive, got ", steps);
  if (batch <= 0) fail(prefix, "batch must be positive, got ", batch);
  if (accumulation <= 0) fail("gradient accumulation must be positive, got ", accumulation);
  if (warmup_steps < 0 || warmup_steps > steps)
    fail(prefix, "warm-up steps must lie in [0, ", steps, "] (the steps), got ", warmup_steps);
}

nlohmann::json OptimizationSettings::to_json() const {
  return {{"steps", steps},
          {"batch", batch},
          {"accumulation", accumulation},
          {"learning_rate", learning_rate},
          {"min_learning_rate", min_learning_rate},
          {"warmup_steps", warmup_steps},
          {"weight_decay", weight_decay},
          {"max_grad_norm", max_grad_norm}};
}

ParameterFilter all_parameters() {
  return [](const std::string&) { return true; };
}

ParameterFilter parameters_under(std::vector<std::string> prefixes) {
  return [prefixes = std::move(prefixes)](const std::string& name) {
    for (const auto& prefix : prefixes)
      if (name.rfind(prefix, 0) == 0) return true;
    return false;
  };
}

Optimizer::Optimizer(torch::nn::Module& model, OptimizerConfig config, const ParameterFilter& trains,
                     DataParallel parallel)
    : config_(std::move(config)), parallel_(std::move(parallel)) {
  config_.validate();
  for (auto& item : model.named_parameters()) {
    auto& parameter = item.value();
    if (!trains(item.key())) {
      parameter.requires_grad_(false);
      continue;
    }
    if (parameter.scalar_type() != at::kFloat)
      fail("parameter ", item.key(), " is ", c10::toString(parameter.scalar_type()),
           "; trained parameters must be fp32 master weights");
    parameter.requires_grad_(true);
    names_.push_back(item.key());
    parameters_.push_back(parameter);
  }
  if (parameters_.empty()) fail("no parameter selected for training");
  if (parallel_.distributed()) {
    const auto& group = *parallel_.group;
    {
      torch::NoGradGuard no_grad;
      for (auto& parameter : parameters_) group.broadcast(parameter, 0);
    }
    reducer_ = std::make_unique<GradientReducer>(parameters_, parallel_.group, parallel_.bucket_bytes);
    if (parallel_.shard_optimizer_state) owners_ = assign_owners(parameters_, group.size());
  }
  std::vector<bool> selected(parameters_.size());
  for (std::size_t k = 0; k < parameters_.size(); ++k) selected[k] = owns(k);
  adamw_ = make_adamw(selected);
}

Optimizer::~Optimizer() = default;

bool Optimizer::owns(std::size_t parameter) const {
  return owners_.empty() || owners_[parameter] == parallel_.group->rank();
}

std::unique_ptr<torch::optim::AdamW> Optimizer::make_adamw(const std::vector<bool>& selected) const {
  std::vector<at::Tensor> decayed, undecayed;
  for (std::size_t k = 0; k < parameters_.size(); ++k)
    if (selected[k]) (parameters_[k].dim() >= 2 ? decayed : undecayed).push_back(parameters_[k]);
  if (decayed.empty() && undecayed.empty()) return nullptr;  // a rank whose shard is empty
  const auto options = torch::optim::AdamWOptions(config_.schedule.at(0))
                           .betas({config_.beta1, config_.beta2})
                           .eps(config_.eps)
                           .weight_decay(config_.weight_decay);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  if (!decayed.empty()) groups.emplace_back(decayed, std::make_unique<torch::optim::AdamWOptions>(options));
  if (!undecayed.empty()) {
    auto no_decay = std::make_unique<torch::optim::AdamWOptions>(options);
    no_decay->weight_decay(0);
    groups.emplace_back(undecayed, std::move(no_decay));
  }
  return std::make_unique<torch::optim::AdamW>(std::move(groups), options);
}

double Optimizer::accumulate(const at::Tensor& loss) {
  if (micro_batches_ == config_.accumulation_steps)
    fail("accumulate() called ", micro_batches_ + 1, " times before step(); accumulation is ",
         config_.accumulation_steps);
  ++micro_batches_;
  double value = loss.item<double>();
  if (reducer_) {
    // The ranks agree on the summed loss, so all of them skip or none does.
    auto total = loss.detach().to(at::kDouble).reshape({1}).clone();
    parallel_.group->all_reduce_sum(total);
    value = total.item<double>();
  }
  if (!std::isfinite(value)) {
    poisoned_ = true;
    return value;
  }
  const bool last = micro_batches_ == config_.accumulation_steps;
  if (reducer_ && last) reducer_->arm();
  (loss / static_cast<double>(config_.accumulation_steps)).backward();
  if (reducer_ && last) reducer_->finish();
  return value;
}

StepReport Optimizer::step() {
  if (micro_batches_ != config_.accumulation_steps)
    fail("step() after ", micro_batches_, " of ", config_.accumulation_steps, " micro-batches");
  StepReport report;
  report.learning_rate = config_.schedule.at(steps_);
  const double max_norm = config_.max_grad_norm > 0 ? config_.max_grad_norm : std::numeric_limits<double>::infinity();
  const bool fused = parameters_.front().is_cuda();
  report.grad_norm = poisoned_ ? std::numeric_limits<double>::quiet_NaN()
                     : fused   ? clip_gradients_fused(parameters_, max_norm)
                               : torch::nn::utils::clip_grad_norm_(parameters_, max_norm);
  report.applied = std::isfinite(report.grad_norm);
  if (report.applied) {
    if (adamw_) {
      for (auto& group : adamw_->param_groups())
        static_cast<torch::optim::AdamWOptions&>(group.options()).lr(report.learning_rate);
      if (fused)
        adamw_step_fused(*adamw_);
      else
        adamw_->step();
    }
    if (!owners_.empty()) broadcast_from_owners(parameters_, owners_, *parallel_.group);
    consecutive_skips_ = 0;
  } else {
    ++skipped_;
    if (++consecutive_skips_ > config_.max_consecutive_skips)
      fail("training diverged: ", consecutive_skips_, " consecutive steps up to step ", steps_,
           " had a non-finite loss or gradient (", skipped_, " skipped in all)");
  }
  for (auto& parameter : parameters_) parameter.mutable_grad() = at::Tensor();  // also those other ranks update
  micro_batches_ = 0;
  poisoned_ = false;
  ++steps_;
  return report;
}

std::string Optimizer::state() const {
  torch::serialize::OutputArchive archive;
  if (owners_.empty()) {
    if (!parallel_.leader()) return {};
    adamw_->save(archive);
  } else {
    const auto full = make_adamw(std::vector<bool>(parameters_.size(), true));
    gather_moments(parameters_, owners_, adamw_.get(), *full, *parallel_.group);
    if (!parallel_.leader()) return {};
    full->save(archive);
  }
  archive.write("steps", at::tensor(steps_));
  archive.write("skipped", at::tensor(skipped_));
  archive.write("consecutive_skips", at::tensor(consecutive_skips_));
  std::ostringstream bytes;
  archive.save_to(bytes);
  return bytes.str();
}

void Optimizer::save(const std::filesystem::path& file) const { write_file_atomically(file, state()); }

void Optimizer::load(const std::filesystem::path& file) {
  with_context(file.string() + ": ", [&] {
    torch::serialize::InputArchive archive;
    try {
      archive.load_from(file.string(), parameters_.front().device());  // saved moments may be host copies
      if (owners_.empty()) {
        adamw_->load(archive);
      } else {
        const auto full = make_adamw(std::vector<bool>(parameters_.size(), true));
        full->load(archive);
        keep_own_moments(parameters_, owners_, parallel_.group->rank(), *full, adamw_.get());
      }
      at::Tensor value;
      archive.read("steps", value);
      steps_ = value.item<int64_t>();
      archive.read("skipped", value);
      skipped_ = value.item<int64_t>();
      archive.read("consecutive_skips", value);
      consecutive_skips_ = value.item<int64_t>();
    } catch (const c10::Error& error) {
      const std::string message = error.what_without_backtrace();
      fail("cannot read optimizer state: ", message.substr(0, message.find('\n')));
    }
  });
  micro_batches_ = 0;
  poisoned_ = false;
}

}  // namespace hybridize::train
