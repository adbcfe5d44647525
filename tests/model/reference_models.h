#pragma once
// The checkpoints and logits tests/reference/make_parity_models.py made with
// HF transformers; CTest runs that script first and passes the directory in
// HYBRIDIZE_REFERENCE_DIR.
#include <cstdlib>
#include <filesystem>
#include <string>

#include "catch.h"
#include "io/checkpoint_files.h"
#include "io/torch_tensors.h"

namespace hybridize::testing {

inline std::filesystem::path reference_model(const std::string& name) {
  const char* root = std::getenv("HYBRIDIZE_REFERENCE_DIR");
  if (root == nullptr) FAIL("HYBRIDIZE_REFERENCE_DIR is not set; run the tests through ctest");
  const auto path = std::filesystem::path(root) / name;
  if (!std::filesystem::exists(path / "reference.safetensors")) FAIL("no reference model at " << path);
  return path;
}

// input_ids [B, T] (int64) and HF's fp32 logits [B, T, vocab].
inline std::pair<at::Tensor, at::Tensor> reference_io(const std::filesystem::path& model_dir) {
  const auto file = io::SafetensorsFile::open(model_dir / "reference.safetensors");
  auto load = [&](const char* name) { return io::tensor_view({file, &file->entry(name)}).clone(); };
  return {load("input_ids"), load("logits")};
}

}  // namespace hybridize::testing
