#pragma once
// A device's two rates, measured in this process: memory bandwidth (a
// device-to-device copy) and the FLOP rate of a large matmul. Decoding is bound
// by one or the other, so they turn bytes and FLOPs per step into time: the
// floor a decode step cannot beat, and the planner's throughput model
// (search/cost_model.h), calibrated.
#include <ATen/ATen.h>

#include <cstdint>
#include <string>

namespace hybridize::infer {

struct DeviceRates {
  std::string device_name;           // the card's name ("cpu" on the CPU)
  int64_t memory_bytes = 0;          // the card's total memory (0 on the CPU)
  double copy_bytes_per_second = 0;  // bytes read plus bytes written
  double matmul_flops_per_second = 0;
};

// Bandwidth of copying `bytes` bytes from one buffer to another on `device`:
// (read + written) bytes per second, the median of several copies.
double measure_copy_bandwidth(at::Device device, int64_t bytes);

// FLOP/s (2 n^3 per product) of n x n by n x n matmuls in `dtype` on `device`, the median of several.
double measure_matmul_flops(at::Device device, at::ScalarType dtype, int64_t n);

// The card's total memory; 0 off CUDA.
int64_t device_memory_bytes(at::Device device);

// Both, at sizes that saturate the device: a 2 GiB copy and 8192-wide
// matmuls on a GPU; 64 MiB and 512 on the CPU, where the measurement is a
// check of the path rather than a figure worth keeping.
DeviceRates measure_device_rates(at::Device device, at::ScalarType dtype);

}  // namespace hybridize::infer
