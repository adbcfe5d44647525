#include "infer/device_rates.h"

#include <torch/cuda.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

#ifdef HYBRIDIZE_HAVE_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif

namespace hybridize::infer {

namespace {

void synchronize(at::Device device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

// Median seconds of `runs` calls of `body`, each between device syncs, after two untimed ones.
double median_seconds(at::Device device, int runs, const std::function<void()>& body) {
  for (int i = 0; i < 2; ++i) body();
  std::vector<double> seconds;
  for (int i = 0; i < runs; ++i) {
    synchronize(device);
    const auto start = std::chrono::steady_clock::now();
    body();
    synchronize(device);
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::nth_element(seconds.begin(), seconds.begin() + runs / 2, seconds.end());
  return seconds[static_cast<std::size_t>(runs / 2)];
}

}  // namespace

double measure_copy_bandwidth(at::Device device, int64_t bytes) {
  c10::InferenceMode inference;
  const auto source = at::empty({bytes}, at::TensorOptions().dtype(at::kByte).device(device)).fill_(1);
  auto target = at::empty_like(source);
  return 2.0 * double(bytes) / median_seconds(device, 10, [&] { target.copy_(source); });
}

double measure_matmul_flops(at::Device device, at::ScalarType dtype, int64_t n) {
  c10::InferenceMode inference;
  const auto options = at::TensorOptions().dtype(dtype).device(device);
  const auto a = at::randn({n, n}, options), b = at::randn({n, n}, options);
  auto product = at::empty({n, n}, options);
  return 2.0 * double(n) * double(n) * double(n) / median_seconds(device, 10, [&] { at::mm_out(product, a, b); });
}

int64_t device_memory_bytes(at::Device device) {
#ifdef HYBRIDIZE_HAVE_CUDA
  if (device.is_cuda())
    return static_cast<int64_t>(at::cuda::getDeviceProperties(device.index() < 0 ? 0 : device.index())->totalGlobalMem);
#endif
  return 0;
}

DeviceRates measure_device_rates(at::Device device, at::ScalarType dtype) {
  DeviceRates rates;
  rates.device_name = device.str();
#ifdef HYBRIDIZE_HAVE_CUDA
  if (device.is_cuda())
    rates.device_name = at::cuda::getDeviceProperties(device.index() < 0 ? 0 : device.index())->name;
#endif
  rates.memory_bytes = device_memory_bytes(device);
  const bool gpu = device.is_cuda();
  rates.copy_bytes_per_second = measure_copy_bandwidth(device, gpu ? int64_t(2) << 30 : int64_t(64) << 20);
  rates.matmul_flops_per_second = measure_matmul_flops(device, dtype, gpu ? 8192 : 512);
  return rates;
}

}  // namespace hybridize::infer
