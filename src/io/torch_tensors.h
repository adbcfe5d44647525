#pragma once
// Bridges safetensors files and LibTorch tensors.
#include <ATen/ATen.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "io/checkpoint_files.h"
#include "io/safetensors.h"

namespace hybridize::io {

at::ScalarType to_scalar_type(DType dtype);  // throws for dtypes LibTorch lacks
DType to_dtype(at::ScalarType type);         // throws for types safetensors lacks

// A read-only CPU tensor over the mapped bytes; it keeps the file mapped while
// alive. Callers copy out of it and never write into it.
at::Tensor tensor_view(const LocatedTensor& located);

// Writes CPU or GPU tensors (any layout) to a safetensors file atomically.
void save_tensors(const std::filesystem::path& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                  const std::map<std::string, std::string>& metadata = {});

}  // namespace hybridize::io
