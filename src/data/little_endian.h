#pragma once
// Loads of little-endian integers from unaligned bytes of a mapped file.
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace hybridize::data {

template <class Int>
Int load_little_endian(const std::byte* bytes) {
  using Unsigned = std::make_unsigned_t<Int>;
  Unsigned value = 0;
  for (std::size_t i = sizeof(Int); i-- > 0;)
    value = static_cast<Unsigned>((value << 8) | std::to_integer<uint8_t>(bytes[i]));
  return static_cast<Int>(value);
}

template <class Int>
void store_little_endian(Int value, std::byte* bytes) {
  using Unsigned = std::make_unsigned_t<Int>;
  auto bits = static_cast<Unsigned>(value);
  for (std::size_t i = 0; i < sizeof(Int); ++i, bits = static_cast<Unsigned>(bits >> 8))
    bytes[i] = std::byte(bits & 0xff);
}

}  // namespace hybridize::data
