#pragma once
// The Unicode classes of tokenizer.json split patterns (\p{L}, \p{N}, \s, ...)
// as HF tokenizers' regex engine sees them, generated from the pinned tokenizers
// (scripts/generate_unicode_classes.py): the pre-tokenizer compiles these ranges
// into its patterns instead of trusting the machine's PCRE2 tables, which are of
// an older Unicode and vary by machine.
#include <cstddef>
#include <string_view>

namespace hybridize::data {

struct CodePointRange {
  char32_t first, last;  // inclusive
};

struct UnicodeClass {
  // "L", "Lu", ..., "s" for \s, "word" for the word characters of an added
  // token's single_word check (Rust regex's \w, not a Unicode property)
  std::string_view name;
  const CodePointRange* ranges;
  std::size_t count;
};

// The class named as in \p{NAME} ("s" for \s), or nullptr.
const UnicodeClass* find_unicode_class(std::string_view name);

}  // namespace hybridize::data
