#pragma once
// The ranks of a job joined for collectives. Rank 0 hosts a c10d TCPStore at
// MASTER_ADDR:MASTER_PORT where every rank meets. Tensors on CUDA devices
// travel by NCCL (each rank on cuda:LOCAL_RANK). CPU tensors travel through
// the store itself: c10d's gloo backend cannot be compiled against the torch
// wheel, which ships ProcessGroupGloo.hpp but not the gloo headers it includes
// (and Debian's libgloo-dev is older than the gloo inside torch 2.11). The
// store path sums in rank order, so every rank gets the same bits; it suits the
// small tensors of CPU jobs (tests), not bulk traffic. A job of one process
// has no peers and every collective is a no-op. Every wait is bounded by the
// environment's timeout: a rank that never comes, or dies, makes the others
// fail with a message naming the address and the operation instead of hanging.
#include <ATen/ATen.h>
#include <torch/csrc/distributed/c10d/Work.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dist/environment.h"

namespace c10d {
class Backend;
class Store;
}  // namespace c10d

namespace hybridize::dist {

// An asynchronous collective; wait() returns when its tensors hold the result.
class PendingCollective {
 public:
  PendingCollective() = default;  // already complete (one process)
  PendingCollective(c10::intrusive_ptr<c10d::Work> work, std::string what, const class ProcessGroup* group);
  PendingCollective(PendingCollective&&) noexcept;
  PendingCollective& operator=(PendingCollective&&) noexcept;
  ~PendingCollective();
  void wait();

 private:
  c10::intrusive_ptr<c10d::Work> work_;
  std::string what_;
  const ProcessGroup* group_ = nullptr;
};

class ProcessGroup {
 public:
  // Joins the job `env` describes for tensors on `device` (NCCL for CUDA, the
  // store for the CPU). Throws Error when a peer does not come within the timeout or
  // NCCL is asked of a build without it.
  ProcessGroup(const Environment& env, at::Device device);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return env_.rank; }
  int size() const { return env_.world_size; }
  bool is_leader() const { return env_.rank == 0; }  // the rank that writes files and the store
  at::Device device() const { return device_; }
  const Environment& environment() const { return env_; }

  // In place, summed over the ranks.
  PendingCollective all_reduce_sum_async(at::Tensor tensor) const;
  void all_reduce_sum(at::Tensor tensor) const;
  // In place, `root`'s tensor on every rank.
  PendingCollective broadcast_async(at::Tensor tensor, int root) const;
  void broadcast(at::Tensor tensor, int root) const;
  // Every rank's `tensor` (same shape on all), in rank order.
  std::vector<at::Tensor> all_gather(const at::Tensor& tensor) const;
  // Returns once every rank has called it.
  void barrier() const;
  // `root`'s values on every rank (their count need not be known elsewhere).
  std::vector<int64_t> broadcast_values(std::vector<int64_t> values, int root) const;

  // Small results for rank 0, through the job's store rather than the tensor
  // backend: post() leaves `bytes` under `key`; fetch() waits (within the
  // timeout) until the key is there, then takes it away.
  void post(const std::string& key, const std::string& bytes) const;
  std::string fetch(const std::string& key) const;

  // "rank 1 of 2 (MASTER_ADDR=..:..)": for messages.
  std::string describe() const;

 private:
  friend class PendingCollective;
  // The store path: every rank's tensor (or the root's alone) under keys of
  // this collective's sequence number, read back by all ranks.
  std::vector<at::Tensor> exchange(const std::string& what, const at::Tensor& tensor, std::optional<int> root) const;

  Environment env_;
  at::Device device_;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::Backend> backend_;  // NCCL for CUDA; null: CPU tensors go through the store
  mutable int64_t sequence_ = 0;               // collectives so far: the same on every rank
};

// The device a rank computes on: cuda (no index) becomes cuda:LOCAL_RANK when
// the job has several ranks; anything else is kept.
at::Device rank_device(const Environment& env, at::Device requested);

}  // namespace hybridize::dist
