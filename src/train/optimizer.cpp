#include "train/optimizer.h"

#include <torch/nn/utils/clip_grad.h>
#include <torch/serialize.h>

#include <cmath>
#include <limits>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"

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

Optimizer::Optimizer(torch::nn::Module& model, OptimizerConfig config, const ParameterFilter& trains)
    : config_(std::move(config)) {
  config_.validate();
  std::vector<at::Tensor> decayed, undecayed;
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
    (parameter.dim() >= 2 ? decayed : undecayed).push_back(parameter);
  }
  if (parameters_.empty()) fail("no parameter selected for training");
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
  adamw_ = std::make_unique<torch::optim::AdamW>(std::move(groups), options);
}

void Optimizer::accumulate(const at::Tensor& loss) {
  if (micro_batches_ == config_.accumulation_steps)
    fail("accumulate() called ", micro_batches_ + 1, " times before step(); accumulation is ",
         config_.accumulation_steps);
  ++micro_batches_;
  if (!std::isfinite(loss.item<double>())) {
    poisoned_ = true;
    return;
  }
  (loss / static_cast<double>(config_.accumulation_steps)).backward();
}

StepReport Optimizer::step() {
  if (micro_batches_ != config_.accumulation_steps)
    fail("step() after ", micro_batches_, " of ", config_.accumulation_steps, " micro-batches");
  StepReport report;
  report.learning_rate = config_.schedule.at(steps_);
  const double max_norm = config_.max_grad_norm > 0 ? config_.max_grad_norm : std::numeric_limits<double>::infinity();
  report.grad_norm = poisoned_ ? std::numeric_limits<double>::quiet_NaN()
                               : torch::nn::utils::clip_grad_norm_(parameters_, max_norm);
  report.applied = std::isfinite(report.grad_norm);
  if (report.applied) {
    for (auto& group : adamw_->param_groups())
      static_cast<torch::optim::AdamWOptions&>(group.options()).lr(report.learning_rate);
    adamw_->step();
    consecutive_skips_ = 0;
  } else {
    ++skipped_;
    if (++consecutive_skips_ > config_.max_consecutive_skips)
      fail("training diverged: ", consecutive_skips_, " consecutive steps up to step ", steps_,
           " had a non-finite loss or gradient (", skipped_, " skipped in all)");
  }
  adamw_->zero_grad();
  micro_batches_ = 0;
  poisoned_ = false;
  ++steps_;
  return report;
}

void Optimizer::save(const std::filesystem::path& file) const {
  torch::serialize::OutputArchive archive;
  adamw_->save(archive);
  archive.write("steps", at::tensor(steps_));
  archive.write("skipped", at::tensor(skipped_));
  archive.write("consecutive_skips", at::tensor(consecutive_skips_));
  std::ostringstream bytes;
  archive.save_to(bytes);
  write_file_atomically(file, bytes.str());
}

void Optimizer::load(const std::filesystem::path& file) {
  with_context(file.string() + ": ", [&] {
    torch::serialize::InputArchive archive;
    try {
      archive.load_from(file.string());
      adamw_->load(archive);
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
