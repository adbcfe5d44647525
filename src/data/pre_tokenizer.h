#pragma once
// The pre-tokenizer of a byte-level tokenizer.json: Split steps with a Regex
// pattern (behavior "Isolated"), then ByteLevel (optional prefix space, optional
// GPT-2 regex). The byte-to-symbol mapping itself is left to the BPE model,
// which looks bytes up directly.
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "data/regex.h"

namespace hybridize::data {

class PreTokenizer {
 public:
  // Reads the JSON under key "pre_tokenizer" of `source`; throws Error naming the
  // key for anything but [Split...,] ByteLevel.
  PreTokenizer(const nlohmann::json& json, const std::string& source);

  // Splits valid UTF-8 text into words (raw bytes), none of them empty.
  std::vector<std::string> split(std::string_view text) const;
  bool adds_prefix_space() const { return add_prefix_space_; }

 private:
  std::vector<Regex> splits_;           // the Split steps, in order
  bool add_prefix_space_ = false;       // ByteLevel.add_prefix_space
  std::vector<Regex> byte_level_regex_;  // ByteLevel.use_regex: the GPT-2 pattern, or none
};

}  // namespace hybridize::data
