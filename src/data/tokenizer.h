#pragma once
// A byte-level BPE tokenizer read from a Hugging Face tokenizer.json (the kind
// Llama 3, Mistral-Nemo and Qwen2 ship), giving the same ids as HF tokenizers.
// Supported: model BPE; pre_tokenizer [Split(Regex, Isolated)...,] ByteLevel;
// normalizer null or NFC (builds with ICU); decoder ByteLevel; post_processor
// TemplateProcessing / ByteLevel / Sequence of them; added tokens with their
// special, single_word, lstrip, rstrip and normalized flags. Anything else is
// refused when loading, with the file and JSON key named.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "data/added_tokens.h"
#include "data/bpe_model.h"
#include "data/normalizer.h"
#include "data/post_processor.h"
#include "data/pre_tokenizer.h"

namespace hybridize::data {

class Tokenizer {
 public:
  // Throws Error naming the file (and key) when it is missing, malformed or unsupported.
  explicit Tokenizer(const std::filesystem::path& path);
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // `text` must be valid UTF-8 (Error otherwise). Added tokens in the text are
  // always recognised; `add_special_tokens` applies the post-processor template.
  // Safe to call from several threads.
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens) const;

  // As HF: ids that are not in the vocabulary are skipped, and byte sequences
  // that are not valid UTF-8 come out as U+FFFD.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const;

  // The text bytes one token stands for (ByteLevel-decoded, not UTF-8-repaired;
  // a piece of a multi-byte character alone), or nullopt for an unknown id.
  std::optional<std::string> token_bytes(int32_t id) const;

  std::optional<int32_t> token_to_id(const std::string& token) const;
  std::optional<std::string> id_to_token(int32_t id) const;
  // One more than the largest id (model vocabulary and added tokens).
  int32_t vocab_size() const;
  // The special tokens the post-processor template puts before / after the
  // text; tokenizer.json names no BOS/EOS otherwise.
  std::optional<int32_t> bos_id() const { return post_processor_.bos_id(); }
  std::optional<int32_t> eos_id() const { return post_processor_.eos_id(); }
  // ByteLevel's add_prefix_space: each pre-tokenized piece not starting with a
  // space gets one, so a token may begin with a space the text lacks.
  bool adds_prefix_space() const { return pre_tokenizer_.adds_prefix_space(); }

 private:
  Tokenizer(const nlohmann::json& json, const std::string& source);

  std::string source_;
  BpeModel model_;
  Normalizer normalizer_;
  PreTokenizer pre_tokenizer_;
  PostProcessor post_processor_;
  AddedTokens added_tokens_;
};

}  // namespace hybridize::data
