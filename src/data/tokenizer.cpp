#include "data/tokenizer.h"

#include <algorithm>
#include <set>

#include "core/error.h"
#include "core/json_file.h"
#include "core/log.h"
#include "data/byte_level.h"
#include "data/utf8.h"

namespace hybridize::data {

namespace {

// The top-level object, checked for keys that would change the ids we cannot honour.
const nlohmann::json& checked(const nlohmann::json& json, const std::string& source) {
  if (!json.is_object()) fail(source, ": not a tokenizer.json (the top level is not an object)");
  if (!json.contains("model") || !json.at("model").is_object()) fail(source, ": key 'model': missing or not an object");
  const auto& model = json.at("model");
  const std::string type = model.contains("type") && model.at("type").is_string()
                               ? model.at("type").get<std::string>()
                               : model.value("type", nlohmann::json()).dump();
  if (type != "BPE") fail(source, ": key 'model.type': '", type, "' is not supported (only BPE)");
  for (const char* key : {"truncation", "padding"})
    if (json.contains(key) && !json.at(key).is_null())
      fail(source, ": key '", key, "': must be null, got ", json.at(key).dump());
  return json;
}

// Whether the pre-tokenizer ends in ByteLevel: byte-level BPE, else SentencePiece-style.
bool uses_byte_level(const nlohmann::json& json) {
  if (!json.contains("pre_tokenizer") || !json.at("pre_tokenizer").is_object()) return false;
  const auto& pre = json.at("pre_tokenizer");
  const auto is_byte_level = [](const nlohmann::json& step) {
    return step.is_object() && step.value("type", "") == "ByteLevel";
  };
  if (is_byte_level(pre)) return true;
  if (pre.value("type", "") != "Sequence" || !pre.contains("pretokenizers") || !pre.at("pretokenizers").is_array())
    return false;
  const auto& steps = pre.at("pretokenizers");
  return std::any_of(steps.begin(), steps.end(), is_byte_level);
}

const nlohmann::json& member(const nlohmann::json& json, const char* key) {
  static const nlohmann::json null;
  return json.contains(key) ? json.at(key) : null;
}

std::vector<AddedToken> read_added_tokens(const nlohmann::json& json, const BpeModel& model,
                                          const std::string& source) {
  std::vector<AddedToken> tokens;
  const auto& list = member(json, "added_tokens");
  if (list.is_null()) return tokens;
  if (!list.is_array()) fail(source, ": key 'added_tokens': not an array");
  std::set<int32_t> ids;
  int32_t next_id = 0;
  for (size_t i = 0; i < list.size(); ++i) {
    const auto& entry = list[i];
    const std::string key = "added_tokens[" + std::to_string(i) + "]";
    const auto bad = [&](const std::string& why) { fail(source, ": key '", key, "': ", why, ", got ", entry.dump()); };
    if (!entry.is_object() || !entry.contains("content") || !entry.at("content").is_string())
      bad("needs a string \"content\"");
    if (!entry.contains("id") || !entry.at("id").is_number_integer() || entry.at("id").get<int64_t>() < 0 ||
        entry.at("id").get<int64_t>() > INT32_MAX)
      bad("needs a non-negative integer \"id\"");
    const auto flag = [&](const char* name, bool fallback) {
      if (!entry.contains(name)) return fallback;
      if (!entry.at(name).is_boolean()) bad(std::string("\"") + name + "\" must be true or false");
      return entry.at(name).get<bool>();
    };
    AddedToken token;
    token.content = entry.at("content").get<std::string>();
    if (utf8::first_invalid_byte(token.content)) bad("content is not valid UTF-8");
    // HF re-derives the ids rather than trusting the file: a token in the model's
    // vocabulary takes the model's id, any other the next id after the vocabulary
    // entries and the added tokens so far. They differ only in inconsistent files.
    if (const auto model_id = model.token_to_id(token.content)) {
      token.id = *model_id;
    } else {
      token.id = next_id < model.vocab_entries() ? model.vocab_entries() : next_id;
    }
    next_id = std::max(next_id, token.id + 1);
    if (token.id != entry.at("id").get<int32_t>())
      log_warning(source, ": added token '", token.content, "' has id ", entry.at("id").get<int32_t>(),
                  " in the file but id ", token.id, " as HF tokenizers assigns it; using ", token.id);
    token.special = flag("special", false);
    token.single_word = flag("single_word", false);
    token.lstrip = flag("lstrip", false);
    token.rstrip = flag("rstrip", false);
    token.normalized = flag("normalized", !token.special);
    if (!ids.insert(token.id).second) bad("id " + std::to_string(token.id) + " is used by an earlier added token");
    tokens.push_back(std::move(token));
  }
  return tokens;
}

}  // namespace

Tokenizer::Tokenizer(const std::filesystem::path& path) : Tokenizer(read_json_file(path), path.string()) {}

Tokenizer::Tokenizer(const nlohmann::json& json, const std::string& source) try
    : source_(source),
      model_(checked(json, source).at("model"), uses_byte_level(json), source),
      normalizer_(member(json, "normalizer"), source),
      pre_tokenizer_(member(json, "pre_tokenizer"), source),
      decoder_(member(json, "decoder"), pre_tokenizer_.byte_level(), source),
      post_processor_(member(json, "post_processor"), source),
      added_tokens_(read_added_tokens(json, model_, source),
                    [this](const std::string& content) { return normalizer_.apply(content); }) {
} catch (const nlohmann::json::exception& error) {
  // A value of an unexpected JSON type that the readers above did not check.
  fail(source, ": unexpected JSON structure (", error.what(), ")");
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  if (const auto bad = utf8::first_invalid_byte(text))
    fail(source_, ": cannot encode text that is not valid UTF-8 (ill-formed sequence at byte ", *bad, ")");
  // As HF: tokens matched verbatim first, then the rest normalized, then tokens
  // matched in normalized form.
  std::vector<Segment> segments = added_tokens_.split({Segment{std::string(text), std::nullopt}}, false);
  for (auto& segment : segments)
    if (!segment.token) segment.text = normalizer_.apply(segment.text);
  segments = added_tokens_.split(std::move(segments), true);

  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 2);
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const auto& segment = segments[i];
    if (segment.token) {
      ids.push_back(*segment.token);
      continue;
    }
    for (const auto& word : pre_tokenizer_.split(segment.text, /*at_text_start=*/i == 0)) model_.tokenize(word, ids);
  }
  if (add_special_tokens) post_processor_.apply(ids);
  return ids;
}

std::optional<std::string> Tokenizer::token_bytes(int32_t id) const {
  const AddedToken* added = added_tokens_.find(id);
  const std::string* token = added ? &added->content : model_.id_to_token(id);
  if (!token) return std::nullopt;
  return decoder_.token_text(*token);
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  for (const int32_t id : ids) {
    const AddedToken* added = added_tokens_.find(id);
    const std::string* token = added ? &added->content : model_.id_to_token(id);
    if (!token || (skip_special_tokens && added_tokens_.is_special(*token))) continue;
    tokens.push_back(*token);
  }
  return decoder_.decode(tokens);
}

std::string Tokenizer::prepended_text() const {
  const std::string prepended = normalizer_.prepended();
  return prepended.empty() ? "" : decoder_.token_text(prepended);
}

bool Tokenizer::inserts_leading_space() const {
  return pre_tokenizer_.adds_prefix_space() || !normalizer_.prepended().empty();
}

std::optional<int32_t> Tokenizer::token_to_id(const std::string& token) const {
  if (const auto id = added_tokens_.find(token)) return id;
  return model_.token_to_id(token);
}

std::optional<std::string> Tokenizer::id_to_token(int32_t id) const {
  if (const AddedToken* added = added_tokens_.find(id)) return added->content;
  if (const std::string* token = model_.id_to_token(id)) return *token;
  return std::nullopt;
}

int32_t Tokenizer::vocab_size() const {
  int32_t size = model_.vocab_size();
  for (const auto& token : added_tokens_.all()) size = std::max(size, token.id + 1);
  return size;
}

}  // namespace hybridize::data
