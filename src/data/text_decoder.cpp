#include "data/text_decoder.h"

#include "core/error.h"
#include "core/format.h"
#include "data/byte_level.h"
#include "data/tokenizer_json.h"
#include "data/utf8.h"

namespace hybridize::data {

namespace {

// The byte a "<0xXX>" token stands for, or -1.
int fallback_byte(const std::string& token) {
  if (token.size() != 6 || token.compare(0, 3, "<0x") != 0 || token[5] != '>') return -1;
  int value = 0;
  for (const char c : token.substr(3, 2)) {
    const int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

// Each byte-level token's bytes (a character outside the byte alphabet, as in an
// added token holding CJK text, stands for its own UTF-8 bytes).
std::string byte_level_bytes(const std::string& token) {
  if (auto raw = byte_level::decode(token)) return *raw;
  return token;
}

}  // namespace

TextDecoder::TextDecoder(const nlohmann::json& json, bool byte_level, const std::string& source) {
  if (byte_level) {
    if (json.is_null() || step_type(json, "decoder", source) != "ByteLevel")
      fail(source, ": key 'decoder': a ByteLevel pre-tokenizer needs a ByteLevel decoder, got ", json.dump());
    steps_.push_back({Kind::ByteLevel, "", ""});
    return;
  }
  if (json.is_object() && json.value("type", "") == "ByteLevel")
    fail(source, ": key 'decoder': ByteLevel decodes byte-level BPE, but the pre-tokenizer has no ByteLevel step");
  if (json.is_null()) fail(source, ": key 'decoder': missing (a SentencePiece-style tokenizer needs one)");
  for (const auto& [step, key] : component_steps(json, "decoder", "decoders", source)) {
    const std::string type = step_type(step, key, source);
    Step parsed{Kind::Fuse, "", ""};
    if (type == "Replace") {
      parsed = {Kind::Replace, string_pattern(step, key, source), string_member(step, "content", key, source)};
    } else if (type == "ByteFallback") {
      parsed.kind = Kind::ByteFallback;
    } else if (type == "Fuse") {
      parsed.kind = Kind::Fuse;
    } else if (type == "Strip") {
      parsed = {Kind::Strip, "", string_member(step, "content", key, source)};
      if (utf8::sequence_length(parsed.content, 0) != parsed.content.size())
        fail(source, ": key '", key, ".content': must be one character");
      for (const char* name : {"start", "stop"})
        if (!step.contains(name) || !step.at(name).is_number_unsigned())
          fail(source, ": key '", key, ".", name, "': missing or not a non-negative integer");
      parsed.start = step.at("start").get<int64_t>();
      parsed.stop = step.at("stop").get<int64_t>();
    } else if (type == "Metaspace") {
      parsed = {Kind::Metaspace, string_member(step, "replacement", key, source), " "};
      const std::string scheme = step.contains("prepend_scheme") && step.at("prepend_scheme").is_string()
                                     ? step.at("prepend_scheme").get<std::string>()
                                     : (step.value("add_prefix_space", true) ? "always" : "never");
      parsed.strip_first = scheme != "never";
    } else {
      fail(
          source, ": key '", key, ".type': '", type,
          "' is not supported (supported: ByteLevel; Metaspace, Replace, ByteFallback, Fuse, Strip, Sequence of them)");
    }
    steps_.push_back(std::move(parsed));
  }
}

std::string TextDecoder::token_text(const std::string& token) const {
  std::string text = token;
  for (const auto& step : steps_) {
    switch (step.kind) {
      case Kind::ByteLevel:
        return byte_level_bytes(text);
      case Kind::Replace:
        text = replace_all(text, step.pattern, step.content);
        break;
      case Kind::Metaspace:
        text = replace_all(text, step.pattern, " ");
        break;
      case Kind::ByteFallback:
        if (const int byte = fallback_byte(text); byte >= 0) return std::string(1, static_cast<char>(byte));
        break;
      case Kind::Fuse:
      case Kind::Strip:
        break;
    }
  }
  return text;
}

std::string TextDecoder::decode(const std::vector<std::string>& input) const {
  std::vector<std::string> tokens = input;
  for (const auto& step : steps_) {
    switch (step.kind) {
      case Kind::ByteLevel: {
        std::string bytes;
        for (const auto& token : tokens) bytes += byte_level_bytes(token);
        return utf8::repair(bytes);
      }
      case Kind::Replace:
        for (auto& token : tokens) token = replace_all(token, step.pattern, step.content);
        break;
      case Kind::Metaspace:
        for (std::size_t i = 0; i < tokens.size(); ++i)
          tokens[i] = replace_all(tokens[i], step.pattern, i == 0 && step.strip_first ? "" : " ");
        break;
      case Kind::ByteFallback: {
        // A run of byte tokens becomes its text when the bytes are valid UTF-8, else one U+FFFD a token.
        std::vector<std::string> out;
        std::string run;
        std::size_t run_tokens = 0;
        const auto flush = [&] {
          if (run_tokens == 0) return;
          if (utf8::first_invalid_byte(run)) {
            for (std::size_t i = 0; i < run_tokens; ++i) out.emplace_back("\xEF\xBF\xBD");
          } else {
            out.push_back(run);
          }
          run.clear();
          run_tokens = 0;
        };
        for (const auto& token : tokens) {
          if (const int byte = fallback_byte(token); byte >= 0) {
            run.push_back(static_cast<char>(byte));
            ++run_tokens;
          } else {
            flush();
            out.push_back(token);
          }
        }
        flush();
        tokens = std::move(out);
        break;
      }
      case Kind::Fuse: {
        std::string fused;
        for (const auto& token : tokens) fused += token;
        tokens = {fused};
        break;
      }
      case Kind::Strip:
        for (auto& token : tokens) {
          const std::string& c = step.content;
          for (int64_t i = 0; i < step.start && token.compare(0, c.size(), c) == 0; ++i) token.erase(0, c.size());
          for (int64_t i = 0;
               i < step.stop && token.size() >= c.size() && token.compare(token.size() - c.size(), c.size(), c) == 0;
               ++i)
            token.erase(token.size() - c.size());
        }
        break;
    }
  }
  std::string text;
  for (const auto& token : tokens) text += token;
  return utf8::repair(text);
}

}  // namespace hybridize::data
