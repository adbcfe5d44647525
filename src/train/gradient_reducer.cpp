#include "train/gradient_reducer.h"

#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

#include "core/error.h"

namespace hybridize::train {

namespace {

struct AfterAccumulation : torch::autograd::PostAccumulateGradHook {
  std::function<void()> callback;
  explicit AfterAccumulation(std::function<void()> callback) : callback(std::move(callback)) {}
  void operator()(const torch::autograd::Variable&) override { callback(); }
};

}  // namespace

GradientReducer::GradientReducer(std::vector<at::Tensor> parameters, std::shared_ptr<const dist::ProcessGroup> group,
                                 int64_t bucket_bytes)
    : parameters_(std::move(parameters)), group_(std::move(group)) {
  if (bucket_bytes <= 0) fail("gradient bucket size must be positive, got ", bucket_bytes);
  const std::size_t count = parameters_.size();
  bucket_of_.resize(count);
  slot_of_.resize(count);
  arrived_.assign(count, false);
  // A bucket holds one dtype and device; a new one starts when either changes or it is full.
  for (std::size_t k = count; k-- > 0;) {
    const auto& parameter = parameters_[k];
    const bool fresh = buckets_.empty() ||
                       buckets_.back().offsets.back() * int64_t(parameter.element_size()) >= bucket_bytes ||
                       parameters_[buckets_.back().members.front()].options().dtype() != parameter.options().dtype() ||
                       parameters_[buckets_.back().members.front()].device() != parameter.device();
    if (fresh) buckets_.push_back({{}, {0}, {}, 0, {}});
    auto& bucket = buckets_.back();
    bucket_of_[k] = buckets_.size() - 1;
    slot_of_[k] = bucket.members.size();
    bucket.members.push_back(k);
    bucket.offsets.push_back(bucket.offsets.back() + parameter.numel());
  }
  for (auto& bucket : buckets_)
    bucket.flat = at::zeros({bucket.offsets.back()}, parameters_[bucket.members.front()].options());
  for (std::size_t k = 0; k < count; ++k)
    torch::autograd::impl::set_post_acc_grad_hooks(parameters_[k],
                                                   std::make_unique<AfterAccumulation>([this, k] { on_gradient(k); }));
}

GradientReducer::~GradientReducer() {
  for (auto& parameter : parameters_) torch::autograd::impl::set_post_acc_grad_hooks(parameter, nullptr);
}

void GradientReducer::arm() { armed_ = true; }

void GradientReducer::on_gradient(std::size_t parameter) {
  if (!armed_ || arrived_[parameter]) return;
  arrived_[parameter] = true;
  auto& bucket = buckets_[bucket_of_[parameter]];
  const auto slot = slot_of_[parameter];
  const int64_t begin = bucket.offsets[slot], size = bucket.offsets[slot + 1] - begin;
  bucket.flat.narrow(0, begin, size).copy_(parameters_[parameter].grad().reshape({size}));
  if (++bucket.arrived == bucket.members.size()) start_ready_buckets();
}

void GradientReducer::start_ready_buckets() {
  while (next_to_start_ < buckets_.size() &&
         buckets_[next_to_start_].arrived == buckets_[next_to_start_].members.size()) {
    auto& bucket = buckets_[next_to_start_++];
    bucket.pending = group_->all_reduce_sum_async(bucket.flat);
  }
}

void GradientReducer::finish() {
  if (!armed_) fail("GradientReducer::finish() without arm()");
  for (auto& bucket : buckets_) {
    for (std::size_t slot = 0; slot < bucket.members.size(); ++slot) {
      if (arrived_[bucket.members[slot]]) continue;
      // No gradient this step (the parameter took no part in the loss): it adds zeros.
      bucket.flat.narrow(0, bucket.offsets[slot], bucket.offsets[slot + 1] - bucket.offsets[slot]).zero_();
      ++bucket.arrived;
    }
  }
  start_ready_buckets();
  for (auto& bucket : buckets_) {
    bucket.pending.wait();
    for (std::size_t slot = 0; slot < bucket.members.size(); ++slot) {
      auto& parameter = parameters_[bucket.members[slot]];
      if (!parameter.grad().defined()) continue;  // stays without gradient, as in one process
      const int64_t begin = bucket.offsets[slot], size = bucket.offsets[slot + 1] - begin;
      parameter.mutable_grad().copy_(bucket.flat.narrow(0, begin, size).view(parameter.sizes()));
    }
    bucket.arrived = 0;
  }
  arrived_.assign(arrived_.size(), false);
  next_to_start_ = 0;
  armed_ = false;
}

}  // namespace hybridize::train
