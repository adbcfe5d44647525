// scan_bench: the CUDA selective scan beside the LibTorch-ops reference and a
// device-to-device copy, all measured in this one process on one GPU.
//
// For each shape it prints the forward and backward kernels' times, the bytes
// each must move (inputs read once, outputs written once), the bandwidth that
// implies and its fraction of the measured copy bandwidth, and the reference's
// forward time and, where it fits in time, its backward (autograd through its ops). Times are medians of
// CUDA-event intervals after warm-ups; inputs rotate over several sets so that
// small shapes do not run out of L2.
#include <cuda_runtime.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "infer/device_rates.h"
#include "kernels/selective_scan_kernel.h"

using hybridize::kernels::ScanInputs;

namespace {

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    std::fprintf(stderr, "scan_bench: %s: %s\n", what, cudaGetErrorString(status));
    std::exit(1);
  }
}

// Median milliseconds of `iterations` runs of body(i) after `warmups` untimed ones.
double median_ms(int warmups, int iterations, const std::function<void(int)>& body) {
  for (int i = 0; i < warmups; ++i) body(i);
  check(cudaDeviceSynchronize(), "warm-up");
  cudaEvent_t start, stop;
  check(cudaEventCreate(&start), "event");
  check(cudaEventCreate(&stop), "event");
  std::vector<double> times;
  for (int i = 0; i < iterations; ++i) {
    check(cudaEventRecord(start), "record");
    body(i);
    check(cudaEventRecord(stop), "record");
    check(cudaEventSynchronize(stop), "synchronize");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start, stop), "elapsed");
    times.push_back(ms);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

struct Shape {
  const char* name;
  int64_t batch, length, channels, d_state, b_groups, c_groups;
  bool reference_backward;  // autograd through the reference's ops finishes in seconds
};

// The mixer's inputs in bf16, A, D and delta_bias fp32, as the model passes them.
ScanInputs make_inputs(const Shape& s) {
  const auto bf16 = torch::TensorOptions().device(at::kCUDA).dtype(at::kBFloat16);
  const auto fp32 = bf16.dtype(at::kFloat);
  ScanInputs in;
  in.x = torch::randn({s.batch, s.length, s.channels}, bf16);
  in.delta = torch::randn({s.batch, s.length, s.channels}, bf16) * 0.5;
  in.z = torch::randn({s.batch, s.length, s.channels}, bf16);
  in.A = -torch::rand({s.channels, s.d_state}, fp32) * 2 - 0.1;
  in.B = torch::randn({s.batch, s.length, s.b_groups, s.d_state}, bf16);
  in.C = torch::randn({s.batch, s.length, s.c_groups, s.d_state}, bf16);
  in.D = torch::randn({s.channels}, fp32);
  in.delta_bias = torch::randn({s.channels}, fp32) * 0.3;
  return in;
}

}  // namespace

int main() {
  if (!torch::cuda::is_available()) {
    std::fprintf(stderr, "scan_bench: no CUDA device\n");
    return 1;
  }
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, 0), "device properties");
  std::printf("device: %s, %d SMs, L2 %d MiB\n", prop.name, prop.multiProcessorCount, prop.l2CacheSize >> 20);
  torch::manual_seed(0);
  torch::NoGradGuard no_grad;

  const int64_t copy_bytes = int64_t(2) << 30;
  const double copy_gbs = hybridize::infer::measure_copy_bandwidth(at::Device(at::kCUDA, 0), copy_bytes) / 1e9;
  std::printf("device-to-device copy: %.1f GB/s (read + written, 2 x %lld MiB)\n", copy_gbs,
              static_cast<long long>(copy_bytes >> 20));

  const Shape shapes[] = {
      {"15B mixer", 8, 4096, 4096, 16, 64, 256, false},
      {"medium", 4, 2048, 2048, 16, 32, 128, true},
      {"small", 1, 1024, 1024, 16, 16, 64, true},
  };
  std::printf("\n%-10s %-28s %9s %9s %8s %7s %12s %8s\n", "shape", "batch x length x ch (N; G_B/G_C)", "fwd ms",
              "fwd GB", "GB/s", "copy%", "ref fwd ms", "speedup");
  std::vector<std::string> backward_lines;
  for (const auto& s : shapes) {
    // x, delta, z, y plus B and C, bf16; A, D, delta_bias and the fp32 final state.
    const double forward_bytes = 4.0 * 2 * s.batch * s.length * s.channels +
                                 2.0 * s.batch * s.length * (s.b_groups + s.c_groups) * s.d_state +
                                 4.0 * (s.channels * s.d_state + 2 * s.channels + s.batch * s.channels * s.d_state);
    const int sets = int(std::clamp(256e6 / forward_bytes, 1.0, 8.0));
    std::vector<ScanInputs> inputs;
    for (int i = 0; i < sets; ++i) inputs.push_back(make_inputs(s));
    const double fwd_ms = median_ms(3, 20, [&](int i) { hybridize::kernels::selective_scan(inputs[i % sets]); });
    // The reference: a handful of small launches per position, so a few runs suffice.
    const double ref_ms =
        median_ms(1, 3, [&](int i) { hybridize::kernels::selective_scan_reference(inputs[i % sets]); });
    const double gbs = forward_bytes / (fwd_ms * 1e-3) / 1e9;
    char dims[64];
    std::snprintf(dims, sizeof dims, "%lldx%lldx%lld (%lld; %lld/%lld)", static_cast<long long>(s.batch),
                  static_cast<long long>(s.length), static_cast<long long>(s.channels),
                  static_cast<long long>(s.d_state), static_cast<long long>(s.b_groups),
                  static_cast<long long>(s.c_groups));
    std::printf("%-10s %-28s %9.3f %9.3f %8.1f %6.1f%% %12.1f %7.1fx\n", s.name, dims, fwd_ms, forward_bytes / 1e9, gbs,
                100 * gbs / copy_gbs, ref_ms, ref_ms / fwd_ms);
    std::fflush(stdout);

    // Reads x, delta, z, B, C and dy; writes their gradients (A, D, delta_bias are small).
    const double backward_bytes = 6.0 * 2 * s.batch * s.length * s.channels +
                                  2 * 2.0 * s.batch * s.length * (s.b_groups + s.c_groups) * s.d_state;
    auto& in = inputs[0];
    for (auto* t : {&in.x, &in.delta, &in.A, &in.B, &in.C, &in.D}) t->requires_grad_(true);
    in.z->requires_grad_(true);
    in.delta_bias->requires_grad_(true);
    const at::AutoGradMode enable_grad(true);
    const std::vector<at::Tensor> leaves = {in.x, in.delta, in.A, in.B, in.C, in.D, *in.z, *in.delta_bias};
    const auto backward_ms = [&](const at::Tensor& y, int warmups, int iterations) {
      const auto seed = torch::randn_like(y);
      return median_ms(warmups, iterations,
                       [&](int) { torch::autograd::grad({y}, leaves, {seed}, /*retain_graph=*/true); });
    };
    const double bwd_ms = backward_ms(hybridize::kernels::selective_scan(in).y, 2, 10);
    const double bwd_gbs = backward_bytes / (bwd_ms * 1e-3) / 1e9;
    char line[200];
    int used = std::snprintf(line, sizeof line, "%-10s %9.3f %9.3f %8.1f %6.1f%%", s.name, bwd_ms, backward_bytes / 1e9,
                             bwd_gbs, 100 * bwd_gbs / copy_gbs);
    if (s.reference_backward) {
      const double ref_bwd_ms = backward_ms(hybridize::kernels::selective_scan_reference(in).y, 1, 3);
      std::snprintf(line + used, sizeof line - used, " %12.1f %7.1fx", ref_bwd_ms, ref_bwd_ms / bwd_ms);
    } else {
      std::snprintf(line + used, sizeof line - used, " %12s %8s", "-", "-");
    }
    backward_lines.push_back(line);
  }
  std::printf("\n%-10s %9s %9s %8s %7s %12s %8s\n", "backward", "bwd ms", "bwd GB", "GB/s", "copy%", "ref bwd ms",
              "speedup");
  for (const auto& line : backward_lines) std::printf("%s\n", line.c_str());
  return 0;
}
