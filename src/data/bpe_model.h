#pragma once
// The "BPE" model of a tokenizer.json: vocabulary, ranked merges, and the merge
// loop applied to one pre-tokenized word, with a result cache. Byte-level (a
// ByteLevel pre-tokenizer: symbols are the bytes' stand-in characters) or
// SentencePiece-style (symbols are characters; one missing from the vocabulary
// becomes its UTF-8 bytes' <0xXX> tokens under byte_fallback, else <unk>).
#include <array>
#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace hybridize::data {

class BpeModel {
 public:
  // Reads the JSON object under key "model" of `source`; throws Error naming the key.
  BpeModel(const nlohmann::json& model, bool byte_level, const std::string& source);

  // Appends the ids of one word given as raw bytes (before any byte-level mapping).
  void tokenize(std::string_view word, std::vector<int32_t>& ids) const;

  std::optional<int32_t> token_to_id(const std::string& token) const;
  const std::string* id_to_token(int32_t id) const;
  // One more than the largest id of the vocabulary.
  int32_t vocab_size() const { return static_cast<int32_t>(tokens_.size()); }
  // The number of vocabulary entries (less than vocab_size() if ids have gaps).
  int32_t vocab_entries() const { return static_cast<int32_t>(vocab_.size()); }

 private:
  struct Merge {
    int32_t rank;
    int32_t id;
  };
  static uint64_t pair_key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }
  std::vector<int32_t> merge_word(std::string_view word) const;
  // The word's symbols before any merge.
  std::vector<int32_t> initial_symbols(std::string_view word) const;
  void push_unknown(std::vector<int32_t>& symbols) const;

  std::unordered_map<std::string, int32_t> vocab_;
  std::vector<std::string> tokens_;  // by id; ids missing from the vocabulary stay empty
  std::vector<bool> has_token_;
  std::unordered_map<uint64_t, Merge> merges_;  // (left id, right id) -> rank and merged id
  bool byte_level_;
  // Byte-level: each byte's symbol; SentencePiece-style with byte_fallback: its <0xXX> token (-1: none).
  std::array<int32_t, 256> byte_ids_;
  bool byte_fallback_ = false;
  std::optional<int32_t> unk_id_;
  bool fuse_unk_ = false;
  bool ignore_merges_ = false;

  // Words seen before; bounded so that a long corpus cannot grow it without end.
  static constexpr size_t kCacheCapacity = 1 << 18;
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

}  // namespace hybridize::data
