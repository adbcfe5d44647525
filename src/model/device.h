#pragma once
// The device a command runs on, and its peak memory for the records.
#include <ATen/ATen.h>

#include <cstdint>
#include <optional>
#include <string>

namespace hybridize::model {

// "cpu", "cuda" or "cuda:N" ("": cuda when there is a GPU, else cpu); throws
// Error naming --device when unknown or when no GPU is there.
at::Device parse_device(const std::string& name);
// Peak bytes allocated on a CUDA device since the last reset; nothing on the CPU.
std::optional<int64_t> peak_memory_bytes(at::Device device);
void reset_peak_memory(at::Device device);

}  // namespace hybridize::model
