#pragma once
// The safetensors format: 8-byte little-endian header length N, N bytes of
// JSON ({name: {dtype, shape, data_offsets}, "__metadata__": {str: str}}),
// then the data section. Everything in the header is validated against the
// file before any byte of tensor data is handed out.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/mapped_file.h"

namespace hybridize::io {

enum class DType { BOOL, U8, I8, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64, F8_E4M3, F8_E5M2 };

std::size_t dtype_size(DType dtype);
std::string_view dtype_name(DType dtype);
std::optional<DType> parse_dtype(std::string_view name);

struct TensorEntry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets into the data section
  uint64_t end = 0;

  int64_t numel() const;
  std::string shape_string() const;  // "[4096, 5120]"
};

class SafetensorsFile {
 public:
  // Maps and validates the file; throws Error naming the file (and tensor) on any defect.
  static std::shared_ptr<const SafetensorsFile> open(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return file_.path(); }
  const std::vector<TensorEntry>& entries() const { return entries_; }  // sorted by offset
  const TensorEntry* find(std::string_view name) const;
  const TensorEntry& entry(std::string_view name) const;  // throws naming file and tensor
  std::span<const std::byte> bytes(const TensorEntry& entry) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  explicit SafetensorsFile(const std::filesystem::path& path);  // use open()

 private:
  MappedFile file_;
  std::size_t data_start_ = 0;
  std::vector<TensorEntry> entries_;
  std::map<std::string, std::size_t, std::less<>> by_name_;
  std::map<std::string, std::string> metadata_;
};

// One tensor to write: its bytes must be exactly numel * dtype_size long.
struct TensorToWrite {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::span<const std::byte> data;
};

// Writes atomically (temp + fsync + rename); tensors are laid out in the order given.
void write_safetensors(const std::filesystem::path& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace hybridize::io
