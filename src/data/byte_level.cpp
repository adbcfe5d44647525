#include "data/byte_level.h"

#include <unordered_map>

#include "data/utf8.h"

namespace hybridize::data::byte_level {

namespace {

std::string utf8_of(char32_t code) {
  std::string out;
  if (code < 0x80) {
    out += static_cast<char>(code);
  } else {  // the alphabet stays below U+0800
    out += static_cast<char>(0xC0 | (code >> 6));
    out += static_cast<char>(0x80 | (code & 0x3F));
  }
  return out;
}

struct Alphabet {
  std::array<std::string, 256> text;
  std::unordered_map<char32_t, unsigned char> byte_of;

  Alphabet() {
    // Printable Latin-1 bytes stand for themselves; the rest take the code points
    // from U+0100 upwards, in byte order.
    const auto printable = [](int b) {
      return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    };
    char32_t next = 0x100;
    for (int b = 0; b < 256; ++b) {
      const char32_t code = printable(b) ? static_cast<char32_t>(b) : next++;
      text[b] = utf8_of(code);
      byte_of[code] = static_cast<unsigned char>(b);
    }
  }
};

const Alphabet& alphabet() {
  static const Alphabet instance;
  return instance;
}

}  // namespace

const std::string& byte_to_text(unsigned char byte) { return alphabet().text[byte]; }

std::string encode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) out += byte_to_text(static_cast<unsigned char>(c));
  return out;
}

std::optional<std::string> decode(std::string_view token) {
  const auto& byte_of = alphabet().byte_of;
  std::string out;
  for (size_t pos = 0; pos < token.size();) {
    const size_t length = utf8::sequence_length(token, pos);
    if (length == 0) return std::nullopt;
    const auto it = byte_of.find(utf8::decode(token, pos, length));
    if (it == byte_of.end()) return std::nullopt;
    out += static_cast<char>(it->second);
    pos += length;
  }
  return out;
}

}  // namespace hybridize::data::byte_level
