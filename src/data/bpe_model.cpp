#include "data/bpe_model.h"

#include <queue>

#include <algorithm>
#include <cstdio>

#include "core/error.h"
#include "data/byte_level.h"
#include "data/utf8.h"

namespace hybridize::data {

namespace {

// The two halves of a merge, in either serialisation: "a b" (tokenizers < 0.20)
// or ["a", "b"].
std::pair<std::string, std::string> merge_halves(const nlohmann::json& merge, const std::string& source, size_t index) {
  const auto bad = [&](const std::string& why) {
    fail(source, ": key 'model.merges' entry ", index, ": ", why, ", got ", merge.dump());
  };
  if (merge.is_string()) {
    const auto text = merge.get<std::string>();
    const auto space = text.find(' ');
    if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos)
      bad("a string merge must be two tokens separated by one space");
    return {text.substr(0, space), text.substr(space + 1)};
  }
  if (!merge.is_array() || merge.size() != 2 || !merge[0].is_string() || !merge[1].is_string())
    bad("must be \"a b\" or [\"a\", \"b\"]");
  return {merge[0].get<std::string>(), merge[1].get<std::string>()};
}

}  // namespace

BpeModel::BpeModel(const nlohmann::json& model, bool byte_level, const std::string& source) : byte_level_(byte_level) {
  const auto key = [&](const char* name) { return std::string("model.") + name; };
  const auto bad = [&](const char* name, const std::string& why) { fail(source, ": key '", key(name), "': ", why); };
  const auto is_set = [&](const char* name) { return model.contains(name) && !model.at(name).is_null(); };
  const auto flag = [&](const char* name) {
    if (!is_set(name)) return false;
    if (!model.at(name).is_boolean()) bad(name, "must be true or false, got " + model.at(name).dump());
    return model.at(name).get<bool>();
  };

  if (is_set("dropout") && (!model.at("dropout").is_number() || model.at("dropout").get<double>() != 0.0))
    bad("dropout", "BPE dropout is not supported, got " + model.at("dropout").dump());
  for (const char* affix : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (is_set(affix) && model.at(affix) != "")
      bad(affix, "is not supported by byte-level BPE, got " + model.at(affix).dump());
  byte_fallback_ = flag("byte_fallback");
  if (byte_fallback_ && byte_level) bad("byte_fallback", "true is not supported with a ByteLevel pre-tokenizer");
  fuse_unk_ = flag("fuse_unk");
  ignore_merges_ = flag("ignore_merges");

  if (!model.contains("vocab") || !model.at("vocab").is_object()) bad("vocab", "missing or not an object");
  for (const auto& [token, id] : model.at("vocab").items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX)
      bad("vocab", "token '" + token + "' has id " + id.dump() + ", expected a non-negative integer");
    const auto value = id.get<int32_t>();
    if (static_cast<size_t>(value) >= tokens_.size()) {
      tokens_.resize(value + 1);
      has_token_.resize(value + 1, false);
    }
    if (has_token_[value]) bad("vocab", "id " + std::to_string(value) + " is used twice");
    tokens_[value] = token;
    has_token_[value] = true;
    vocab_.emplace(token, value);
  }

  if (is_set("unk_token")) {
    if (!model.at("unk_token").is_string()) bad("unk_token", "must be a string");
    const auto unk = model.at("unk_token").get<std::string>();
    unk_id_ = token_to_id(unk);
    if (!unk_id_) bad("unk_token", "'" + unk + "' is not in model.vocab");
  }

  if (!model.contains("merges") || !model.at("merges").is_array()) bad("merges", "missing or not an array");
  const auto& merges = model.at("merges");
  merges_.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const auto [left, right] = merge_halves(merges[i], source, i);
    const auto id_of = [&](const std::string& token) {
      const auto id = token_to_id(token);
      if (!id) fail(source, ": key 'model.merges' entry ", i, ": token '", token, "' is not in model.vocab");
      return *id;
    };
    const int32_t left_id = id_of(left), right_id = id_of(right), merged_id = id_of(left + right);
    // A repeated pair takes its last rank, as HF's map built from the list does.
    merges_.insert_or_assign(pair_key(left_id, right_id), Merge{static_cast<int32_t>(i), merged_id});
  }

  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    const auto id =
        token_to_id(byte_level ? byte_level::byte_to_text(static_cast<unsigned char>(b)) : std::string(name));
    byte_ids_[b] = id ? *id : -1;
  }
}

std::optional<int32_t> BpeModel::token_to_id(const std::string& token) const {
  const auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::id_to_token(int32_t id) const {
  if (id < 0 || id >= vocab_size() || !has_token_[id]) return nullptr;
  return &tokens_[id];
}

void BpeModel::push_unknown(std::vector<int32_t>& symbols) const {
  if (!unk_id_) return;  // HF drops what it has no symbol for when there is no unk token
  if (fuse_unk_ && !symbols.empty() && symbols.back() == *unk_id_) return;
  symbols.push_back(*unk_id_);
}

std::vector<int32_t> BpeModel::initial_symbols(std::string_view word) const {
  std::vector<int32_t> symbols;
  symbols.reserve(word.size());
  if (byte_level_) {
    for (const char c : word) {
      const int32_t id = byte_ids_[static_cast<unsigned char>(c)];
      id >= 0 ? symbols.push_back(id) : push_unknown(symbols);
    }
    return symbols;
  }
  for (std::size_t at = 0; at < word.size();) {
    const std::size_t length = std::max<std::size_t>(1, utf8::sequence_length(word, at));
    const std::string_view character = word.substr(at, length);
    if (const auto id = token_to_id(std::string(character))) {
      symbols.push_back(*id);
    } else if (byte_fallback_ && std::all_of(character.begin(), character.end(),
                                             [&](char c) { return byte_ids_[static_cast<unsigned char>(c)] >= 0; })) {
      for (const char c : character) symbols.push_back(byte_ids_[static_cast<unsigned char>(c)]);
    } else {
      push_unknown(symbols);
    }
    at += length;
  }
  return symbols;
}

std::vector<int32_t> BpeModel::merge_word(std::string_view word) const {
  if (ignore_merges_) {
    if (const auto id = token_to_id(byte_level_ ? byte_level::encode(word) : std::string(word))) return {*id};
  }
  // The symbols as a doubly linked list, so that merging is O(1).
  struct Symbol {
    int32_t id;
    int prev, next;
  };
  std::vector<Symbol> symbols;
  for (const int32_t id : initial_symbols(word)) {
    const int index = static_cast<int>(symbols.size());
    symbols.push_back({id, index - 1, -1});
    if (index > 0) symbols[index - 1].next = index;
  }

  // Lowest rank first, then leftmost: the order HF's merge queue uses.
  struct Candidate {
    int32_t rank;
    int pos;
    int32_t id;
    bool operator>(const Candidate& other) const { return rank != other.rank ? rank > other.rank : pos > other.pos; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  const auto push_pair = [&](int pos) {
    if (pos < 0 || symbols[pos].next < 0) return;
    const auto it = merges_.find(pair_key(symbols[pos].id, symbols[symbols[pos].next].id));
    if (it != merges_.end()) queue.push({it->second.rank, pos, it->second.id});
  };
  for (int i = 0; i + 1 < static_cast<int>(symbols.size()); ++i) push_pair(i);

  std::vector<bool> removed(symbols.size(), false);
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.pos];
    if (removed[top.pos] || left.next < 0) continue;
    // An entry is stale when either symbol changed since it was pushed.
    const auto it = merges_.find(pair_key(left.id, symbols[left.next].id));
    if (it == merges_.end() || it->second.rank != top.rank) continue;
    const int right = left.next;
    left.id = top.id;
    left.next = symbols[right].next;
    if (left.next >= 0) symbols[left.next].prev = top.pos;
    removed[right] = true;
    push_pair(left.prev);
    push_pair(top.pos);
  }

  std::vector<int32_t> ids;
  for (int i = symbols.empty() ? -1 : 0; i >= 0; i = symbols[i].next) ids.push_back(symbols[i].id);
  return ids;
}

void BpeModel::tokenize(std::string_view word, std::vector<int32_t>& ids) const {
  if (word.empty()) return;
  const std::string key(word);
  {
    const std::lock_guard lock(cache_mutex_);
    if (const auto it = cache_.find(key); it != cache_.end()) {
      ids.insert(ids.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  auto merged = merge_word(word);
  ids.insert(ids.end(), merged.begin(), merged.end());
  const std::lock_guard lock(cache_mutex_);
  if (cache_.size() >= kCacheCapacity) cache_.clear();
  cache_.emplace(key, std::move(merged));
}

}  // namespace hybridize::data
