#include "data/utf8.h"

namespace hybridize::data::utf8 {

namespace {

// Number of bytes of the longest prefix of text[pos..] that could still start a
// well-formed sequence (Unicode's "maximal subpart"), and whether it is complete.
struct Prefix {
  size_t length;
  bool complete;
};

Prefix scan(std::string_view text, size_t pos) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(pos);
  if (lead < 0x80) return {1, true};
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    need = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    need = 3;
    if (lead == 0xE0) lo = 0xA0;  // overlong
    if (lead == 0xED) hi = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    need = 4;
    if (lead == 0xF0) lo = 0x90;  // overlong
    if (lead == 0xF4) hi = 0x8F;  // beyond U+10FFFF
  } else {
    return {1, false};
  }
  size_t i = 1;
  for (; i < need && pos + i < text.size(); ++i) {
    const unsigned char b = byte(pos + i);
    const bool ok = i == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
    if (!ok) return {i, false};
  }
  return {i, i == need};
}

}  // namespace

size_t sequence_length(std::string_view text, size_t pos) {
  const Prefix prefix = scan(text, pos);
  return prefix.complete ? prefix.length : 0;
}

std::optional<size_t> first_invalid_byte(std::string_view text) {
  for (size_t pos = 0; pos < text.size();) {
    const size_t length = sequence_length(text, pos);
    if (length == 0) return pos;
    pos += length;
  }
  return std::nullopt;
}

char32_t decode(std::string_view text, size_t pos, size_t length) {
  static constexpr unsigned char kLeadMask[] = {0, 0x7F, 0x1F, 0x0F, 0x07};
  char32_t code = static_cast<unsigned char>(text[pos]) & kLeadMask[length];
  for (size_t i = 1; i < length; ++i) code = (code << 6) | (static_cast<unsigned char>(text[pos + i]) & 0x3F);
  return code;
}

std::string repair(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t pos = 0; pos < bytes.size();) {
    const Prefix prefix = scan(bytes, pos);
    if (prefix.complete) {
      out.append(bytes.substr(pos, prefix.length));
    } else {
      out.append("\xEF\xBF\xBD");  // U+FFFD
    }
    pos += prefix.length;
  }
  return out;
}

}  // namespace hybridize::data::utf8
