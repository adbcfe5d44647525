#pragma once
// The post_processor of a tokenizer.json for single sequences: TemplateProcessing
// (special tokens around $A, e.g. Llama 3's BOS), ByteLevel (ids unchanged), or a
// Sequence of them.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace hybridize::data {

class PostProcessor {
 public:
  // Reads the JSON under key "post_processor" of `source`; throws Error naming the key.
  PostProcessor(const nlohmann::json& json, const std::string& source);

  // Puts the template's special tokens around `ids`.
  void apply(std::vector<int32_t>& ids) const;

  // The template's single special token before / after the text, if it has one.
  std::optional<int32_t> bos_id() const;
  std::optional<int32_t> eos_id() const;

 private:
  void read_template(const nlohmann::json& json, const std::string& source, const std::string& key);

  std::vector<int32_t> prefix_, suffix_;
};

}  // namespace hybridize::data
