#pragma once
// A BPE tokenizer read from a Hugging Face tokenizer.json, giving the same ids
// as HF tokenizers. Byte-level (Llama 3, Mistral-Nemo, Qwen2): pre_tokenizer
// [Split(Regex, Isolated)...,] ByteLevel, decoder ByteLevel. SentencePiece-style
// (Llama 2, Mistral 7B, Gemma): characters with byte_fallback and <unk>,
// pre_tokenizer none or Metaspace, decoder Metaspace or [Replace, ByteFallback,
// Fuse, Strip]. Either: normalizer null, NFC (builds with ICU), Prepend,
// Replace, or a Sequence of them; post_processor TemplateProcessing / ByteLevel
// / Sequence of them; added tokens with their special, single_word, lstrip,
// rstrip and normalized flags. Anything else is refused when loading, with the
// file and JSON key named.
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
#include "data/text_decoder.h"

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

  // The text bytes one token stands for (decoded, not UTF-8-repaired; a piece of
  // a multi-byte character alone), or nullopt for an unknown id.
  std::optional<std::string> token_bytes(int32_t id) const;

  std::optional<int32_t> token_to_id(const std::string& token) const;
  std::optional<std::string> id_to_token(int32_t id) const;
  // One more than the largest id (model vocabulary and added tokens).
  int32_t vocab_size() const;
  // The special tokens the post-processor template puts before / after the
  // text; tokenizer.json names no BOS/EOS otherwise.
  std::optional<int32_t> bos_id() const { return post_processor_.bos_id(); }
  std::optional<int32_t> eos_id() const { return post_processor_.eos_id(); }
  // Whether a token may begin with a space the text lacks there: ByteLevel's
  // add_prefix_space or Metaspace's prepend scheme (only where the text has no
  // space), or a Prepend normalizer.
  bool inserts_leading_space() const;
  // The text a Prepend normalizer puts before every stretch of text between
  // added tokens, even one starting with a space (decoded: " " for "▁"), or "".
  std::string prepended_text() const;
  bool is_added_token(int32_t id) const { return added_tokens_.find(id) != nullptr; }

 private:
  Tokenizer(const nlohmann::json& json, const std::string& source);

  std::string source_;
  BpeModel model_;
  Normalizer normalizer_;
  PreTokenizer pre_tokenizer_;
  TextDecoder decoder_;
  PostProcessor post_processor_;
  AddedTokens added_tokens_;
};

}  // namespace hybridize::data
