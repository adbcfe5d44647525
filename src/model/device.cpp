#include "model/device.h"

#include <c10/cuda/CUDACachingAllocator.h>
#include <torch/cuda.h>

#include "core/error.h"

namespace hybridize::model {

namespace {
c10::DeviceIndex index_of(at::Device device) { return device.has_index() ? device.index() : 0; }
}  // namespace

at::Device parse_device(const std::string& name) {
  if (name.empty()) return torch::cuda::is_available() ? at::Device(at::kCUDA) : at::Device(at::kCPU);
  if (name == "cpu") return at::kCPU;
  if (name == "cuda" || name.rfind("cuda:", 0) == 0) {
    if (!torch::cuda::is_available()) fail("--device ", name, ": no CUDA device is available on this machine");
    return at::Device(name);
  }
  fail("--device: '", name, "' is not a device (cpu, cuda or cuda:N)");
}

std::optional<int64_t> peak_memory_bytes(at::Device device) {
  if (!device.is_cuda()) return std::nullopt;
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(index_of(device));
  return int64_t(stats.allocated_bytes[size_t(c10::CachingAllocator::StatType::AGGREGATE)].peak);
}

void reset_peak_memory(at::Device device) {
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(index_of(device));
}

}  // namespace hybridize::model
