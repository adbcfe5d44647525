#include "dist/process_group.h"

#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>
#ifdef HYBRIDIZE_HAVE_NCCL
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <cstring>
#include <exception>

#include "core/error.h"

namespace hybridize::dist {

namespace {

std::string first_line(const std::exception& error) {
  std::string message = error.what();
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&error)) message = c10_error->what_without_backtrace();
  return message.substr(0, message.find('\n'));
}

// c10d reports failures as c10::Error (timeouts, lost peers); hybridize as one line naming the rank and step.
template <class Body>
decltype(auto) collective_step(const ProcessGroup& group, const std::string& what, Body&& body) {
  try {
    return body();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& error) {
    fail(group.describe(), ": ", what, " failed (a peer is missing, died or timed out after ",
         group.environment().timeout.count() / 1000, " s, HYBRIDIZE_DIST_TIMEOUT): ", first_line(error));
  }
}

std::vector<uint8_t> bytes_of(const at::Tensor& tensor) {
  const auto host = tensor.detach().contiguous().cpu();
  const auto* data = static_cast<const uint8_t*>(host.data_ptr());
  return {data, data + host.nbytes()};
}

at::Tensor tensor_from(const std::vector<uint8_t>& bytes, const at::Tensor& like, const std::string& key) {
  auto tensor = at::empty(like.sizes(), like.options().device(at::kCPU));
  if (bytes.size() != tensor.nbytes())
    fail(key, ": ", bytes.size(), " bytes where ", tensor.nbytes(),
         " were expected (ranks disagree on a tensor's shape)");
  std::memcpy(tensor.data_ptr(), bytes.data(), bytes.size());
  return tensor;
}

}  // namespace

PendingCollective::PendingCollective(c10::intrusive_ptr<c10d::Work> work, std::string what, const ProcessGroup* group)
    : work_(std::move(work)), what_(std::move(what)), group_(group) {}
PendingCollective::PendingCollective(PendingCollective&&) noexcept = default;
PendingCollective& PendingCollective::operator=(PendingCollective&&) noexcept = default;
PendingCollective::~PendingCollective() = default;

void PendingCollective::wait() {
  if (!work_) return;
  auto work = std::move(work_);
  collective_step(*group_, what_, [&] {
    if (!work->wait(group_->env_.timeout)) fail("timed out");
  });
}

at::Device rank_device(const Environment& env, at::Device requested) {
  if (requested.is_cuda() && !requested.has_index() && env.distributed())
    return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(env.local_rank));
  return requested;
}

ProcessGroup::ProcessGroup(const Environment& env, at::Device device) : env_(env), device_(device) {
  if (!env_.distributed()) return;
#ifndef HYBRIDIZE_HAVE_NCCL
  if (device.is_cuda())
    fail(describe(),
         ": this build of hybridize has no NCCL (its LibTorch lacks c10d's ProcessGroupNCCL); "
         "run on --device cpu or rebuild against a CUDA LibTorch");
#endif
  collective_step(*this, "joining the job", [&] {
    c10d::TCPStoreOptions options;
    options.port = static_cast<std::uint16_t>(env_.master_port);
    options.isServer = env_.rank == 0;
    options.numWorkers = static_cast<std::size_t>(env_.world_size);
    options.waitWorkers = true;
    options.timeout = env_.timeout;
    store_ = c10::make_intrusive<c10d::TCPStore>(env_.master_address, options);
#ifdef HYBRIDIZE_HAVE_NCCL
    if (device.is_cuda()) {
      // The rank's GPU becomes current, so that nothing (a CUDA context, NCCL's own buffers) lands on GPU 0.
      if (device.has_index()) c10::cuda::set_device(device.index());
      auto nccl = c10d::ProcessGroupNCCL::Options::create();
      nccl->timeout = env_.timeout;
      // NCCL's rendezvous keys under a prefix of their own, apart from the store path's.
      backend_ = c10::make_intrusive<c10d::ProcessGroupNCCL>(c10::make_intrusive<c10d::PrefixStore>("nccl", store_),
                                                             env_.rank, env_.world_size, nccl);
    }
#endif
  });
  barrier();  // every rank is there before anything else is sent
}

ProcessGroup::~ProcessGroup() {
  // Rank 0 hosts the store, so it leaves last: a peer still finishing its last
  // collective would otherwise lose the store under it. Not while an error
  // unwinds: the job is failing anyway, and waiting would delay the message.
  if (!store_ || std::uncaught_exceptions() > 0) return;
  try {
    if (backend_) backend_->shutdown();  // NCCL's communicators end cleanly (ProcessGroupNCCL warns at exit otherwise)
    if (is_leader())
      store_->get("left/all");
    else if (store_->add("left", 1) == size() - 1)
      store_->set("left/all", std::vector<uint8_t>{1});
  } catch (const std::exception&) {
    // A peer that died before leaving: nothing is left to wait for.
  }
}

std::string ProcessGroup::describe() const {
  return "rank " + std::to_string(env_.rank) + " of " + std::to_string(env_.world_size) +
         " (MASTER_ADDR=" + env_.master_address + ", MASTER_PORT=" + std::to_string(env_.master_port) + ")";
}

std::vector<at::Tensor> ProcessGroup::exchange(const std::string& what, const at::Tensor& tensor,
                                               std::optional<int> root) const {
  const std::string prefix = "c/" + std::to_string(sequence_++) + "/";
  return collective_step(*this, what, [&] {
    if (!root || *root == rank()) store_->set(prefix + std::to_string(root.value_or(rank())), bytes_of(tensor));
    std::vector<at::Tensor> values;
    for (int from = 0; from < size(); ++from) {
      if (root && from != *root) continue;
      const auto key = prefix + std::to_string(from);
      values.push_back(tensor_from(store_->get(key), tensor, key));
    }
    // The last rank to read removes the keys, so the store does not grow with every step.
    if (store_->add(prefix + "read", 1) == size()) {
      for (int from = 0; from < size(); ++from)
        if (!root || from == *root) store_->deleteKey(prefix + std::to_string(from));
      store_->deleteKey(prefix + "read");
    }
    return values;
  });
}

PendingCollective ProcessGroup::all_reduce_sum_async(at::Tensor tensor) const {
  if (!store_) return {};
  if (!backend_) {
    auto parts = exchange("all-reduce", tensor, std::nullopt);
    auto sum = parts[0];
    for (std::size_t from = 1; from < parts.size(); ++from)
      sum += parts[from];  // in rank order: the same bits everywhere
    tensor.copy_(sum);
    return {};
  }
  std::vector<at::Tensor> tensors{std::move(tensor)};
  return {collective_step(*this, "all-reduce", [&] { return backend_->allreduce(tensors); }), "all-reduce", this};
}

void ProcessGroup::all_reduce_sum(at::Tensor tensor) const { all_reduce_sum_async(std::move(tensor)).wait(); }

PendingCollective ProcessGroup::broadcast_async(at::Tensor tensor, int root) const {
  if (!store_) return {};
  if (!backend_) {
    auto value = exchange("broadcast", tensor, root).front();
    if (rank() != root) tensor.copy_(value);
    return {};
  }
  std::vector<at::Tensor> tensors{std::move(tensor)};
  c10d::BroadcastOptions options;
  options.rootRank = root;
  return {collective_step(*this, "broadcast", [&] { return backend_->broadcast(tensors, options); }), "broadcast",
          this};
}

void ProcessGroup::broadcast(at::Tensor tensor, int root) const { broadcast_async(std::move(tensor), root).wait(); }

std::vector<at::Tensor> ProcessGroup::all_gather(const at::Tensor& tensor) const {
  if (!store_) return {tensor};
  if (!backend_) {
    auto parts = exchange("all-gather", tensor, std::nullopt);
    for (auto& part : parts) part = part.to(tensor.device());
    return parts;
  }
  std::vector<std::vector<at::Tensor>> outputs(1);
  for (int rank = 0; rank < size(); ++rank) outputs[0].push_back(at::empty_like(tensor));
  std::vector<at::Tensor> inputs{tensor.contiguous()};
  PendingCollective(collective_step(*this, "all-gather", [&] { return backend_->allgather(outputs, inputs); }),
                    "all-gather", this)
      .wait();
  return outputs[0];
}

void ProcessGroup::barrier() const {
  // A one-element all-reduce on the group's device works the same on every path.
  all_reduce_sum(at::zeros({1}, at::TensorOptions().device(device_)));
}

std::vector<int64_t> ProcessGroup::broadcast_values(std::vector<int64_t> values, int root) const {
  if (!store_) return values;
  const auto on_device = at::TensorOptions().dtype(at::kLong).device(device_);
  auto count = at::full({1}, int64_t(values.size()), on_device);
  broadcast(count, root);
  auto tensor =
      rank() == root ? at::tensor(values, at::kLong).to(device_) : at::empty({count.item<int64_t>()}, on_device);
  if (tensor.numel() > 0) broadcast(tensor, root);
  const auto host = tensor.cpu();
  return {host.data_ptr<int64_t>(), host.data_ptr<int64_t>() + host.numel()};
}

void ProcessGroup::post(const std::string& key, const std::string& bytes) const {
  if (!store_) fail("post('", key, "') in a job of one process");
  collective_step(*this, "posting " + key,
                  [&] { store_->set("r/" + key, std::vector<uint8_t>(bytes.begin(), bytes.end())); });
}

std::string ProcessGroup::fetch(const std::string& key) const {
  if (!store_) fail("fetch('", key, "') in a job of one process");
  return collective_step(*this, "waiting for " + key, [&] {
    const auto bytes = store_->get("r/" + key);
    store_->deleteKey("r/" + key);
    return std::string(bytes.begin(), bytes.end());
  });
}

}  // namespace hybridize::dist
