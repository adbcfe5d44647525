#include "train/optimizer_shards.h"

#include <algorithm>

namespace hybridize::train {

namespace {
void* key_of(const at::Tensor& parameter) { return parameter.unsafeGetTensorImpl(); }
}  // namespace

std::vector<int> assign_owners(const std::vector<at::Tensor>& parameters, int ranks) {
  std::vector<int64_t> load(static_cast<std::size_t>(ranks), 0);
  std::vector<int> owners;
  owners.reserve(parameters.size());
  for (const auto& parameter : parameters) {
    const auto least = std::min_element(load.begin(), load.end()) - load.begin();
    load[std::size_t(least)] += parameter.numel();
    owners.push_back(int(least));
  }
  return owners;
}

void broadcast_from_owners(const std::vector<at::Tensor>& parameters, const std::vector<int>& owners,
                           const dist::ProcessGroup& group) {
  torch::NoGradGuard no_grad;
  std::vector<dist::PendingCollective> pending;
  pending.reserve(parameters.size());
  for (std::size_t k = 0; k < parameters.size(); ++k)
    pending.push_back(group.broadcast_async(parameters[k], owners[k]));
  for (auto& collective : pending) collective.wait();
}

void gather_moments(const std::vector<at::Tensor>& parameters, const std::vector<int>& owners, torch::optim::AdamW* own,
                    torch::optim::AdamW& full, const dist::ProcessGroup& group) {
  for (std::size_t k = 0; k < parameters.size(); ++k) {
    const auto& parameter = parameters[k];
    const bool mine = owners[k] == group.rank();
    const torch::optim::AdamWParamState* state = nullptr;
    if (mine && own) {
      const auto found = own->state().find(key_of(parameter));
      if (found != own->state().end()) state = static_cast<const torch::optim::AdamWParamState*>(found->second.get());
    }
    // [has moments, step]: a parameter has none before its first applied step.
    auto header = at::zeros({2}, at::TensorOptions().dtype(at::kLong).device(group.device()));
    if (state) header.copy_(at::tensor({int64_t(1), state->step()}));
    group.broadcast(header, owners[k]);
    const auto values = header.cpu();
    if (values[0].item<int64_t>() == 0) continue;
    auto exp_avg = state ? state->exp_avg().clone() : at::empty_like(parameter);
    auto exp_avg_sq = state ? state->exp_avg_sq().clone() : at::empty_like(parameter);
    group.broadcast(exp_avg, owners[k]);
    group.broadcast(exp_avg_sq, owners[k]);
    if (!group.is_leader()) continue;
    auto gathered = std::make_unique<torch::optim::AdamWParamState>();
    gathered->step(values[1].item<int64_t>());
    // Host copies: a second full set of moments beside the leader's own would not fit a large stage's GPU.
    gathered->exp_avg(exp_avg.cpu());
    gathered->exp_avg_sq(exp_avg_sq.cpu());
    full.state()[key_of(parameter)] = std::move(gathered);
  }
}

void keep_own_moments(const std::vector<at::Tensor>& parameters, const std::vector<int>& owners, int rank,
                      torch::optim::AdamW& full, torch::optim::AdamW* own) {
  for (std::size_t k = 0; k < parameters.size(); ++k) {
    if (owners[k] != rank || !own) continue;
    const auto found = full.state().find(key_of(parameters[k]));
    if (found != full.state().end()) own->state()[key_of(parameters[k])] = std::move(found->second);
  }
}

}  // namespace hybridize::train
