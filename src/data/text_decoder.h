#pragma once
// The decoder of a tokenizer.json, turning tokens back into text as HF does:
// ByteLevel (byte-level BPE), or for SentencePiece-style BPE Metaspace, or a
// Sequence of Replace (a string), ByteFallback (<0xXX> tokens as bytes), Fuse
// and Strip (Llama 2's and Mistral 7B's).
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace hybridize::data {

class TextDecoder {
 public:
  // Reads the JSON under key "decoder" of `source`; throws Error naming the key
  // for a decoder that does not fit the model (`byte_level`) or is not supported.
  TextDecoder(const nlohmann::json& json, bool byte_level, const std::string& source);

  // The text bytes one token stands for inside a text (not the first token's
  // stripping): a piece of a multi-byte character alone where it is one byte.
  std::string token_text(const std::string& token) const;

  // Tokens, in order, to text (invalid UTF-8 as U+FFFD).
  std::string decode(const std::vector<std::string>& tokens) const;

 private:
  enum class Kind { ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace };
  struct Step {
    Kind kind;
    std::string pattern, content;  // Replace; Strip: content; Metaspace: pattern = replacement
    int64_t start = 0, stop = 0;   // Strip
    bool strip_first = false;      // Metaspace: the first token's replacements vanish (prepend_scheme not never)
  };
  std::vector<Step> steps_;
};

}  // namespace hybridize::data
