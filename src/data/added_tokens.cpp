#include "data/added_tokens.h"

#include <algorithm>

#include "data/utf8.h"

namespace hybridize::data {

namespace {

// Rust's char::is_whitespace (the Unicode White_Space property), which HF's
// lstrip/rstrip use through the regex crate's \s.
bool is_white_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// Start of the code point that ends at `end` (text is valid UTF-8).
size_t previous_start(std::string_view text, size_t end) {
  size_t pos = end - 1;
  while (pos > 0 && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) --pos;
  return pos;
}

// Start of the run of white space that ends at `end`.
size_t white_space_run_start(std::string_view text, size_t end) {
  while (end > 0) {
    const size_t start = previous_start(text, end);
    if (!is_white_space(utf8::decode(text, start, end - start))) break;
    end = start;
  }
  return end;
}

// End of the run of white space that starts at `pos`.
size_t white_space_run_end(std::string_view text, size_t pos) {
  while (pos < text.size()) {
    const size_t length = utf8::sequence_length(text, pos);
    if (!is_white_space(utf8::decode(text, pos, length))) break;
    pos += length;
  }
  return pos;
}

}  // namespace

AddedTokens::AddedTokens(std::vector<AddedToken> tokens,
                         const std::function<std::string(const std::string&)>& normalize)
    : tokens_(std::move(tokens)), word_char_(R"(\p{word})", "added_tokens word character class") {
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const auto& token = tokens_[i];
    by_id_[token.id] = i;
    by_content_[token.content] = token.id;
    if (token.special) special_.insert(token.content);
  }
  for (const auto& token : tokens_) {
    if (token.content.empty()) continue;
    PatternSet& set = token.normalized ? normalized_patterns_ : raw_patterns_;
    std::string pattern = token.normalized ? normalize(token.content) : token.content;
    if (pattern.empty()) continue;
    set.by_first_byte[static_cast<unsigned char>(pattern[0])].emplace_back(std::move(pattern), &token);
    set.empty = false;
  }
  for (PatternSet* set : {&raw_patterns_, &normalized_patterns_})
    for (auto& bucket : set->by_first_byte)
      std::stable_sort(bucket.begin(), bucket.end(),
                       [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
}

const AddedToken* AddedTokens::find(int32_t id) const {
  const auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

std::optional<int32_t> AddedTokens::find(const std::string& content) const {
  const auto it = by_content_.find(content);
  if (it == by_content_.end()) return std::nullopt;
  return it->second;
}

bool AddedTokens::is_word_boundary_before(std::string_view text, size_t pos) const {
  if (pos == 0) return true;
  const size_t start = previous_start(text, pos);
  return !word_char_.matches_at_start(text.substr(start, pos - start));
}

bool AddedTokens::is_word_boundary_after(std::string_view text, size_t pos) const {
  if (pos == text.size()) return true;
  return !word_char_.matches_at_start(text.substr(pos, utf8::sequence_length(text, pos)));
}

void AddedTokens::split_text(const std::string& text, const PatternSet& patterns, std::vector<Segment>& out) const {
  size_t emitted = 0;  // text before this offset is already in `out`
  const auto emit_text = [&](size_t end) {
    if (end > emitted) out.push_back({text.substr(emitted, end - emitted), std::nullopt});
  };
  size_t pos = 0;
  while (pos < text.size()) {
    // Leftmost-longest: the first position where any pattern matches, its longest pattern.
    const AddedToken* token = nullptr;
    size_t length = 0;
    for (; pos < text.size() && !token; ++pos) {
      for (const auto& [pattern, candidate] : patterns.by_first_byte[static_cast<unsigned char>(text[pos])]) {
        if (text.compare(pos, pattern.size(), pattern) == 0) {
          token = candidate;
          length = pattern.size();
          break;
        }
      }
    }
    if (!token) break;
    size_t start = pos - 1, stop = start + length;
    pos = stop;  // as HF's matcher, the scan resumes after the match even if it is discarded
    if (token->single_word && !(is_word_boundary_before(text, start) && is_word_boundary_after(text, stop))) continue;
    if (token->lstrip) start = std::max(white_space_run_start(text, start), emitted);
    if (token->rstrip) stop = white_space_run_end(text, stop);
    emit_text(start);
    out.push_back({text.substr(start, stop - start), token->id});
    emitted = stop;
  }
  emit_text(text.size());
}

std::vector<Segment> AddedTokens::split(std::vector<Segment> segments, bool normalized) const {
  const PatternSet& patterns = normalized ? normalized_patterns_ : raw_patterns_;
  if (patterns.empty) return segments;
  std::vector<Segment> out;
  for (auto& segment : segments) {
    if (segment.token) {
      out.push_back(std::move(segment));
    } else {
      split_text(segment.text, patterns, out);
    }
  }
  return out;
}

}  // namespace hybridize::data
