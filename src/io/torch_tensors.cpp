#include "io/torch_tensors.h"

#include <cstdint>
#include <cstring>

#include "core/error.h"

namespace hybridize::io {

at::ScalarType to_scalar_type(DType dtype) {
  switch (dtype) {
    case DType::BOOL:
      return at::kBool;
    case DType::U8:
      return at::kByte;
    case DType::I8:
      return at::kChar;
    case DType::I16:
      return at::kShort;
    case DType::U16:
      return at::kUInt16;
    case DType::F16:
      return at::kHalf;
    case DType::BF16:
      return at::kBFloat16;
    case DType::I32:
      return at::kInt;
    case DType::U32:
      return at::kUInt32;
    case DType::F32:
      return at::kFloat;
    case DType::F64:
      return at::kDouble;
    case DType::I64:
      return at::kLong;
    case DType::U64:
      return at::kUInt64;
    case DType::F8_E4M3:
      return at::kFloat8_e4m3fn;
    case DType::F8_E5M2:
      return at::kFloat8_e5m2;
  }
  fail("dtype ", dtype_name(dtype), " has no LibTorch equivalent");
}

DType to_dtype(at::ScalarType type) {
  for (DType dtype : {DType::BOOL, DType::U8, DType::I8, DType::I16, DType::U16, DType::F16, DType::BF16, DType::I32,
                      DType::U32, DType::F32, DType::F64, DType::I64, DType::U64, DType::F8_E4M3, DType::F8_E5M2})
    if (to_scalar_type(dtype) == type) return dtype;
  fail("LibTorch type ", at::toString(type), " cannot be stored in safetensors");
}

at::Tensor tensor_view(const LocatedTensor& located) {
  const auto bytes = located.file->bytes(*located.entry);
  const auto type = to_scalar_type(located.entry->dtype);
  const auto options = at::TensorOptions().dtype(type).device(at::kCPU);
  const auto& shape = located.entry->shape;
  // LibTorch needs element-aligned data; the format does not promise it.
  if (reinterpret_cast<std::uintptr_t>(bytes.data()) % dtype_size(located.entry->dtype) != 0) {
    auto copy = at::empty(shape, options);
    std::memcpy(copy.data_ptr(), bytes.data(), bytes.size());
    return copy;
  }
  auto keep_alive = located.file;
  return at::from_blob(
      const_cast<std::byte*>(bytes.data()), shape, [keep_alive](void*) {}, options);
}

void save_tensors(const std::filesystem::path& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                  const std::map<std::string, std::string>& metadata) {
  std::vector<at::Tensor> contiguous;  // keeps the bytes alive until written
  std::vector<TensorToWrite> to_write;
  contiguous.reserve(tensors.size());
  for (const auto& [name, tensor] : tensors) {
    contiguous.push_back(tensor.detach().to(at::kCPU).contiguous());
    const auto& cpu = contiguous.back();
    to_write.push_back({name,
                        to_dtype(cpu.scalar_type()),
                        std::vector<int64_t>(cpu.sizes().begin(), cpu.sizes().end()),
                        {static_cast<const std::byte*>(cpu.data_ptr()), cpu.nbytes()}});
  }
  write_safetensors(path, to_write, metadata);
}

}  // namespace hybridize::io
