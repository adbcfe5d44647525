#pragma once
// UTF-8 helpers the tokenizer needs: validation of input text, and the lossy
// conversion HF tokenizers applies to decoded bytes (Rust's from_utf8_lossy).
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace hybridize::data::utf8 {

// Byte offset of the first ill-formed sequence, or nullopt if `text` is valid UTF-8.
std::optional<size_t> first_invalid_byte(std::string_view text);

// Length of the well-formed sequence starting at text[pos], or 0 if ill-formed.
size_t sequence_length(std::string_view text, size_t pos);

// Decodes the code point of the well-formed sequence at text[pos] of length `length`.
char32_t decode(std::string_view text, size_t pos, size_t length);

// Replaces every maximal ill-formed subpart by U+FFFD, as Rust's String::from_utf8_lossy does.
std::string repair(std::string_view bytes);

}  // namespace hybridize::data::utf8
