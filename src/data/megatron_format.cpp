#include "data/megatron_format.h"

namespace hybridize::data::megatron {

namespace {
struct CodeAndDType {
  uint8_t code;
  TokenDType dtype;
};
constexpr std::array<CodeAndDType, 6> kCodes{{
    {1, TokenDType::U8},
    {2, TokenDType::I8},
    {3, TokenDType::I16},
    {4, TokenDType::I32},
    {5, TokenDType::I64},
    {8, TokenDType::U16},
}};
}  // namespace

std::optional<TokenDType> dtype_from_code(uint8_t code) {
  for (const auto& entry : kCodes)
    if (entry.code == code) return entry.dtype;
  return std::nullopt;
}

std::optional<uint8_t> code_from_dtype(TokenDType dtype) {
  for (const auto& entry : kCodes)
    if (entry.dtype == dtype) return entry.code;
  return std::nullopt;
}

std::filesystem::path bin_path(const std::filesystem::path& prefix) {
  std::filesystem::path path = prefix;
  path += ".bin";
  return path;
}

std::filesystem::path idx_path(const std::filesystem::path& prefix) {
  std::filesystem::path path = prefix;
  path += ".idx";
  return path;
}

TokenDType dtype_for_vocab(TokenId vocab_size) { return vocab_size < 65500 ? TokenDType::U16 : TokenDType::I32; }

}  // namespace hybridize::data::megatron
