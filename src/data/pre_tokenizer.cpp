#include "data/pre_tokenizer.h"

#include "core/error.h"

namespace hybridize::data {

namespace {

// The pattern HF's ByteLevel pre-tokenizer uses when use_regex is true.
constexpr const char* kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

bool flag(const nlohmann::json& step, const char* name, bool fallback, const std::string& source, const std::string& key) {
  if (!step.contains(name) || step.at(name).is_null()) return fallback;
  if (!step.at(name).is_boolean()) fail(source, ": key '", key, ".", name, "': must be true or false, got ", step.at(name).dump());
  return step.at(name).get<bool>();
}

std::string type_of(const nlohmann::json& step, const std::string& source, const std::string& key) {
  if (!step.is_object() || !step.contains("type") || !step.at("type").is_string())
    fail(source, ": key '", key, ".type': missing; expected an object with a \"type\"");
  return step.at("type").get<std::string>();
}

// Isolated split: every match and every stretch between matches becomes a piece.
void split_isolated(const Regex& regex, std::string_view text, std::vector<std::string>& out) {
  size_t previous = 0;
  for (const auto& [begin, end] : regex.find_all(text)) {
    if (begin > previous) out.emplace_back(text.substr(previous, begin - previous));
    if (end > begin) out.emplace_back(text.substr(begin, end - begin));
    previous = end;
  }
  if (previous < text.size()) out.emplace_back(text.substr(previous));
}

}  // namespace

PreTokenizer::PreTokenizer(const nlohmann::json& json, const std::string& source) {
  const std::string root = "pre_tokenizer";
  if (json.is_null()) fail(source, ": key '", root, "': missing; byte-level BPE needs a ByteLevel pre-tokenizer");
  std::vector<std::pair<nlohmann::json, std::string>> steps;
  if (type_of(json, source, root) == "Sequence") {
    if (!json.contains("pretokenizers") || !json.at("pretokenizers").is_array())
      fail(source, ": key '", root, ".pretokenizers': missing or not an array");
    const auto& list = json.at("pretokenizers");
    for (size_t i = 0; i < list.size(); ++i) steps.emplace_back(list[i], root + ".pretokenizers[" + std::to_string(i) + "]");
  } else {
    steps.emplace_back(json, root);
  }

  for (size_t i = 0; i < steps.size(); ++i) {
    const auto& [step, key] = steps[i];
    const std::string type = type_of(step, source, key);
    const bool last = i + 1 == steps.size();
    if (type == "Split") {
      if (last) fail(source, ": key '", key, "': a ByteLevel pre-tokenizer must come last (byte-level BPE only)");
      if (!step.contains("pattern") || !step.at("pattern").is_object() || !step.at("pattern").contains("Regex") ||
          !step.at("pattern").at("Regex").is_string())
        fail(source, ": key '", key, ".pattern': only {\"Regex\": \"...\"} patterns are supported, got ",
             step.value("pattern", nlohmann::json()).dump());
      if (step.value("behavior", std::string()) != "Isolated")
        fail(source, ": key '", key, ".behavior': only \"Isolated\" is supported, got ", step.value("behavior", nlohmann::json()).dump());
      if (flag(step, "invert", false, source, key)) fail(source, ": key '", key, ".invert': true is not supported");
      splits_.emplace_back(step.at("pattern").at("Regex").get<std::string>(), source + ": key '" + key + ".pattern.Regex'");
    } else if (type == "ByteLevel") {
      if (!last) fail(source, ": key '", key, "': ByteLevel must be the last pre-tokenizer");
      add_prefix_space_ = flag(step, "add_prefix_space", true, source, key);
      if (flag(step, "use_regex", true, source, key)) byte_level_regex_.emplace_back(kGpt2Pattern, "ByteLevel pattern");
    } else {
      fail(source, ": key '", key, ".type': '", type, "' is not supported (supported: Split, ByteLevel, Sequence of them)");
    }
  }
}

std::vector<std::string> PreTokenizer::split(std::string_view text) const {
  std::vector<std::string> pieces;
  if (!text.empty()) pieces.emplace_back(text);
  for (const auto& regex : splits_) {
    std::vector<std::string> next;
    for (const auto& piece : pieces) split_isolated(regex, piece, next);
    pieces = std::move(next);
  }
  // ByteLevel works on every piece the earlier steps made.
  std::vector<std::string> words;
  for (auto& piece : pieces) {
    if (add_prefix_space_ && piece[0] != ' ') piece.insert(0, 1, ' ');
    if (byte_level_regex_.empty()) {
      words.push_back(std::move(piece));
    } else {
      split_isolated(byte_level_regex_.front(), piece, words);
    }
  }
  return words;
}

}  // namespace hybridize::data
