#pragma once
// A Unicode-aware regular expression (PCRE2, UTF + UCP, JIT-compiled where the
// library has JIT), used for the pre-tokenizer's split patterns. Its Unicode
// class escapes (\p{L}, \s, ...) are spelled out as HF tokenizers' own classes
// (data/unicode_classes.h) before compiling, so matches do not depend on the
// machine's PCRE2 or its Unicode version.
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hybridize::data {

class Regex {
 public:
  // Throws Error naming `where` (file and JSON key) if the pattern does not compile.
  Regex(const std::string& pattern, const std::string& where);
  ~Regex();
  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;

  // Non-overlapping leftmost matches, [begin, end) byte ranges, scanning left to
  // right; after an empty match the scan moves on by one code point. `text`
  // must be valid UTF-8.
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view text) const;

  // Whether the pattern matches at the very start of `text`.
  bool matches_at_start(std::string_view text) const;

 private:
  struct Compiled;
  std::unique_ptr<Compiled> compiled_;
};

}  // namespace hybridize::data
