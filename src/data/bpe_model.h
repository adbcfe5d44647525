#pragma once
// The "BPE" model of a byte-level tokenizer.json: vocabulary, ranked merges,
// and the merge loop applied to one pre-tokenized word, with a result cache.
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
  BpeModel(const nlohmann::json& model, const std::string& source);

  // Appends the ids of one word given as raw bytes (before the byte-level mapping).
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

  std::unordered_map<std::string, int32_t> vocab_;
  std::vector<std::string> tokens_;  // by id; ids missing from the vocabulary stay empty
  std::vector<bool> has_token_;
  std::unordered_map<uint64_t, Merge> merges_;  // (left id, right id) -> rank and merged id
  std::array<int32_t, 256> byte_ids_;           // -1: the byte's symbol is not in the vocabulary
  std::optional<int32_t> unk_id_;
  bool fuse_unk_ = false;
  bool ignore_merges_ = false;

  // Words seen before; bounded so that a long corpus cannot grow it without end.
  static constexpr size_t kCacheCapacity = 1 << 18;
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

}  // namespace hybridize::data
