#pragma once
// The pre-tokenizer of a tokenizer.json. Byte-level BPE: Split steps with a
// Regex pattern (behavior "Isolated"), then ByteLevel (optional prefix space,
// optional GPT-2 regex); the byte-to-symbol mapping itself is left to the BPE
// model, which looks bytes up directly. SentencePiece-style BPE: none, or
// Metaspace (spaces become the replacement character, which is prepended to
// the text's first piece or every piece, and may split words).
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "data/regex.h"

namespace hybridize::data {

class PreTokenizer {
 public:
  // Reads the JSON under key "pre_tokenizer" of `source`; throws Error naming the
  // key for anything but [Split...,] ByteLevel, Metaspace, or none.
  PreTokenizer(const nlohmann::json& json, const std::string& source);

  // Splits valid UTF-8 text into words (raw bytes), none of them empty.
  // `at_text_start`: the text is the start of what is encoded, not a piece
  // after an added token (Metaspace's prepend_scheme "first").
  std::vector<std::string> split(std::string_view text, bool at_text_start) const;

  bool byte_level() const { return byte_level_; }
  // Whether a piece may gain a leading space (ByteLevel) or replacement
  // character (Metaspace) that the text lacks.
  bool adds_prefix_space() const { return add_prefix_space_ || prepend_ != Prepend::Never; }

 private:
  std::vector<Regex> splits_;  // the Split steps, in order
  bool byte_level_ = false;
  bool add_prefix_space_ = false;        // ByteLevel.add_prefix_space
  std::vector<Regex> byte_level_regex_;  // ByteLevel.use_regex: the GPT-2 pattern, or none
  // Metaspace
  enum class Prepend { Never, First, Always };
  bool metaspace_ = false, metaspace_split_ = false;
  std::string replacement_;
  Prepend prepend_ = Prepend::Never;

  std::vector<std::string> metaspace(std::string_view text, bool at_text_start) const;
};

}  // namespace hybridize::data
