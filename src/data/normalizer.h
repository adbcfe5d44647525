#pragma once
// The normalizer of a tokenizer.json: none, or Unicode NFC (Qwen2), done by ICU
// when the build found it.
#include <nlohmann/json.hpp>
#include <string>

namespace hybridize::data {

class Normalizer {
 public:
  // Reads the JSON under key "normalizer" of `source`; throws Error naming the key
  // for other normalizers, or for NFC in a build without ICU.
  Normalizer(const nlohmann::json& json, const std::string& source);

  // The normalized form of valid UTF-8 `text`.
  std::string apply(const std::string& text) const;

  // Whether this build can apply NFC.
  static bool nfc_available();

 private:
  bool nfc_ = false;
};

}  // namespace hybridize::data
