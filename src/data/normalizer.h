#pragma once
// The normalizer of a tokenizer.json: none, Unicode NFC (Qwen2; done by ICU when
// the build found it), Prepend and Replace of a fixed string (SentencePiece-style
// tokenizers: Llama 2, Mistral 7B), or a Sequence of them.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace hybridize::data {

class Normalizer {
 public:
  // Reads the JSON under key "normalizer" of `source`; throws Error naming the key
  // for other normalizers, or for NFC in a build without ICU.
  Normalizer(const nlohmann::json& json, const std::string& source);

  // The normalized form of valid UTF-8 `text`.
  std::string apply(const std::string& text) const;

  // What a Prepend step puts before non-empty text ("" without one).
  std::string prepended() const;

  // Whether this build can apply NFC.
  static bool nfc_available();

 private:
  enum class Kind { Nfc, Prepend, Replace };
  struct Step {
    Kind kind;
    std::string pattern, content;  // Replace: every `pattern` becomes `content`; Prepend: `content`
  };
  std::vector<Step> steps_;
};

}  // namespace hybridize::data
