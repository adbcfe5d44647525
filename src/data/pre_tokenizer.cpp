#include "data/pre_tokenizer.h"

#include "core/error.h"
#include "core/format.h"
#include "data/tokenizer_json.h"

namespace hybridize::data {

namespace {

// The pattern HF's ByteLevel pre-tokenizer uses when use_regex is true.
constexpr const char* kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

bool flag(const nlohmann::json& step, const char* name, bool fallback, const std::string& source,
          const std::string& key) {
  if (!step.contains(name) || step.at(name).is_null()) return fallback;
  if (!step.at(name).is_boolean())
    fail(source, ": key '", key, ".", name, "': must be true or false, got ", step.at(name).dump());
  return step.at(name).get<bool>();
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
  if (json.is_null()) return;  // each piece between added tokens is one word
  const auto steps = component_steps(json, root, "pretokenizers", source);

  for (size_t i = 0; i < steps.size(); ++i) {
    const auto& [step, key] = steps[i];
    const std::string type = step_type(step, key, source);
    const bool last = i + 1 == steps.size();
    if (type == "Split") {
      if (last) fail(source, ": key '", key, "': a ByteLevel pre-tokenizer must come last (byte-level BPE only)");
      if (!step.contains("pattern") || !step.at("pattern").is_object() || !step.at("pattern").contains("Regex") ||
          !step.at("pattern").at("Regex").is_string())
        fail(source, ": key '", key, ".pattern': only {\"Regex\": \"...\"} patterns are supported, got ",
             step.value("pattern", nlohmann::json()).dump());
      if (step.value("behavior", std::string()) != "Isolated")
        fail(source, ": key '", key, ".behavior': only \"Isolated\" is supported, got ",
             step.value("behavior", nlohmann::json()).dump());
      if (flag(step, "invert", false, source, key)) fail(source, ": key '", key, ".invert': true is not supported");
      splits_.emplace_back(step.at("pattern").at("Regex").get<std::string>(),
                           source + ": key '" + key + ".pattern.Regex'");
    } else if (type == "ByteLevel") {
      if (!last) fail(source, ": key '", key, "': ByteLevel must be the last pre-tokenizer");
      byte_level_ = true;
      add_prefix_space_ = flag(step, "add_prefix_space", true, source, key);
      if (flag(step, "use_regex", true, source, key)) byte_level_regex_.emplace_back(kGpt2Pattern, "ByteLevel pattern");
    } else if (type == "Metaspace" && steps.size() == 1) {
      metaspace_ = true;
      if (!step.contains("replacement") || !step.at("replacement").is_string() ||
          step.at("replacement").get<std::string>().empty())
        fail(source, ": key '", key, ".replacement': missing or not a character");
      replacement_ = step.at("replacement").get<std::string>();
      metaspace_split_ = flag(step, "split", true, source, key);
      // tokenizers >= 0.14 write prepend_scheme; older files add_prefix_space.
      const std::string scheme = step.contains("prepend_scheme") && step.at("prepend_scheme").is_string()
                                     ? step.at("prepend_scheme").get<std::string>()
                                     : (flag(step, "add_prefix_space", true, source, key) ? "always" : "never");
      if (scheme == "always")
        prepend_ = Prepend::Always;
      else if (scheme == "first")
        prepend_ = Prepend::First;
      else if (scheme == "never")
        prepend_ = Prepend::Never;
      else
        fail(source, ": key '", key, ".prepend_scheme': '", scheme, "' is not supported (always, first, never)");
    } else {
      fail(source, ": key '", key, ".type': '", type,
           "' is not supported (supported: Split, ByteLevel, Sequence of them; Metaspace alone)");
    }
  }
}

std::vector<std::string> PreTokenizer::metaspace(std::string_view text, bool at_text_start) const {
  std::string replaced = replace_all(text, " ", replacement_);
  const bool prepend = prepend_ == Prepend::Always || (prepend_ == Prepend::First && at_text_start);
  if (prepend && replaced.compare(0, replacement_.size(), replacement_) != 0) replaced.insert(0, replacement_);
  if (!metaspace_split_) return {replaced};
  // Each replacement character starts a word (merged with what follows it).
  std::vector<std::string> words;
  std::size_t begin = 0;
  for (std::size_t at = replaced.find(replacement_, 1); at != std::string::npos;
       at = replaced.find(replacement_, at + 1)) {
    words.push_back(replaced.substr(begin, at - begin));
    begin = at;
  }
  words.push_back(replaced.substr(begin));
  return words;
}

std::vector<std::string> PreTokenizer::split(std::string_view text, bool at_text_start) const {
  if (text.empty()) return {};
  if (metaspace_) return metaspace(text, at_text_start);
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
