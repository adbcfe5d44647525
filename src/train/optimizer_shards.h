#pragma once
// ZeRO-1 bookkeeping for the Optimizer: which rank keeps (and updates) which
// trained parameter's AdamW moments, and how moments and updated parameters
// move between ranks. A parameter is never split, so a shard's update is the
// unsharded update of those parameters, bit for bit.
#include <torch/optim/adamw.h>

#include <vector>

#include "dist/process_group.h"

namespace hybridize::train {

// Owner rank of each parameter: greedily the least-loaded rank by element
// count, in parameter order, so every rank computes the same assignment.
std::vector<int> assign_owners(const std::vector<at::Tensor>& parameters, int ranks);

// Collective: every parameter's new value from its owner to the other ranks.
void broadcast_from_owners(const std::vector<at::Tensor>& parameters, const std::vector<int>& owners,
                           const dist::ProcessGroup& group);

// Collective: the moments each owner holds in `own` (null when it owns none)
// copied into `full` (an AdamW over all parameters) on rank 0; the other
// ranks' `full` stays empty.
void gather_moments(const std::vector<at::Tensor>& parameters, const std::vector<int>& owners, torch::optim::AdamW* own,
                    torch::optim::AdamW& full, const dist::ProcessGroup& group);

// Moves the moments of the parameters this rank owns from `full` into `own`.
void keep_own_moments(const std::vector<at::Tensor>& parameters, const std::vector<int>& owners, int rank,
                      torch::optim::AdamW& full, torch::optim::AdamW* own);

}  // namespace hybridize::train
