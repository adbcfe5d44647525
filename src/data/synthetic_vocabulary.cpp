#include "data/synthetic_vocabulary.h"

#include <array>
#include <cstdint>

#include "core/error.h"

namespace hybridize::data::synthetic {

namespace {

constexpr std::array<int8_t, 256> make_ids() {
  std::array<int8_t, 256> ids{};
  ids.fill(-1);
  for (std::size_t i = 0; i < kAlphabet.size(); ++i)
    ids[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int8_t>(i);
  return ids;
}
constexpr std::array<int8_t, 256> kIds = make_ids();

}  // namespace

std::vector<TokenId> encode(std::string_view text) {
  std::vector<TokenId> ids;
  ids.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const int8_t id = kIds[static_cast<unsigned char>(text[i])];
    if (id < 0) {
      const auto code = static_cast<unsigned char>(text[i]);
      if (code >= 0x20 && code < 0x7f)
        fail("synthetic vocabulary: character '", text[i], "' at position ", i, " is not in the vocabulary");
      fail("synthetic vocabulary: byte ", int(code), " at position ", i, " is not in the vocabulary");
    }
    ids.push_back(id);
  }
  return ids;
}

std::string decode(std::span<const TokenId> ids) {
  std::string text;
  text.reserve(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= kVocabSize)
      fail("synthetic vocabulary: id ", ids[i], " at position ", i, " is outside [0, ", kVocabSize, ")");
    text.push_back(kAlphabet[static_cast<std::size_t>(ids[i])]);
  }
  return text;
}

}  // namespace hybridize::data::synthetic
