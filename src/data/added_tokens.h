#pragma once
// The "added_tokens" of a tokenizer.json: special and user-added tokens that are
// cut out of the text before pre-tokenization, with HF's matching rules
// (leftmost-longest; single_word, lstrip, rstrip; normalized tokens matched
// after normalization).
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "data/regex.h"

namespace hybridize::data {

struct AddedToken {
  int32_t id;
  std::string content;
  bool special, single_word, lstrip, rstrip, normalized;
};

// A piece of text, or one added token cut out of it.
struct Segment {
  std::string text;
  std::optional<int32_t> token;
};

class AddedTokens {
 public:
  // `normalize` maps a normalized token's content to the form it is matched in.
  AddedTokens(std::vector<AddedToken> tokens, const std::function<std::string(const std::string&)>& normalize);

  // Cuts the tokens with the given `normalized` flag out of the text segments of
  // `segments`; segments already holding a token pass through.
  std::vector<Segment> split(std::vector<Segment> segments, bool normalized) const;

  const AddedToken* find(int32_t id) const;
  std::optional<int32_t> find(const std::string& content) const;
  bool is_special(const std::string& content) const { return special_.count(content) > 0; }
  const std::vector<AddedToken>& all() const { return tokens_; }

 private:
  // Patterns of one `normalized` kind, grouped by first byte, longest first.
  struct PatternSet {
    std::vector<std::vector<std::pair<std::string, const AddedToken*>>> by_first_byte =
        std::vector<std::vector<std::pair<std::string, const AddedToken*>>>(256);
    bool empty = true;
  };
  void split_text(const std::string& text, const PatternSet& patterns, std::vector<Segment>& out) const;
  bool is_word_boundary_before(std::string_view text, size_t pos) const;
  bool is_word_boundary_after(std::string_view text, size_t pos) const;

  std::vector<AddedToken> tokens_;
  std::unordered_map<int32_t, size_t> by_id_;
  std::unordered_map<std::string, int32_t> by_content_;
  std::unordered_set<std::string> special_;
  PatternSet raw_patterns_, normalized_patterns_;
  Regex word_char_;  // one code point of Rust regex's Unicode \w, as HF's tables have it (data/unicode_classes.h)
};

}  // namespace hybridize::data
