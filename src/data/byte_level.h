#pragma once
// GPT-2's byte-level alphabet: every byte is shown as one printable code point
// so that BPE vocabularies hold text only (bytes_to_unicode in HF tokenizers).
#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace hybridize::data::byte_level {

// The UTF-8 text of the code point that stands for `byte`.
const std::string& byte_to_text(unsigned char byte);

// `bytes` written in the byte-level alphabet.
std::string encode(std::string_view bytes);

// The bytes a token written in the byte-level alphabet stands for, or nullopt if
// it holds a code point outside that alphabet.
std::optional<std::string> decode(std::string_view token);

}  // namespace hybridize::data::byte_level
