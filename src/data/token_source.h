#pragma once
// One read-only view of a pre-tokenized corpus, whatever its file format
// (Megatron .bin/.idx, .npy, raw uint16/uint32): a list of documents, each a
// run of token ids read straight from a memory map.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string_view>
#include <vector>

namespace hybridize::data {

// Token ids are handed out as int64, the index type embedding lookups take.
using TokenId = int64_t;

// How ids are stored on disk (always little-endian).
enum class TokenDType { U8, I8, I16, U16, I32, U32, I64, U64 };

std::size_t token_dtype_size(TokenDType dtype);
std::string_view token_dtype_name(TokenDType dtype);  // numpy's name: "uint16"

// Token positions [begin, end) within one document.
struct TokenSpan {
  uint64_t begin = 0;
  uint64_t end = 0;
  bool operator==(const TokenSpan&) const = default;
};

// The ids of one document, decoded on access from the mapped bytes.
class TokenView {
 public:
  TokenView(const std::byte* data, std::size_t size, TokenDType dtype, uint64_t byte_offset)
      : data_(data), size_(size), dtype_(dtype), byte_offset_(byte_offset) {}

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  TokenId operator[](std::size_t index) const;
  // Appends ids [begin, end) to `out`.
  void append_to(std::vector<TokenId>& out, std::size_t begin, std::size_t end) const;
  std::vector<TokenId> to_vector() const;
  // Where the first id lies in its file, for error messages.
  uint64_t byte_offset() const { return byte_offset_; }
  TokenDType dtype() const { return dtype_; }

 private:
  const std::byte* data_;
  std::size_t size_;
  TokenDType dtype_;
  uint64_t byte_offset_;
};

class TokenSource {
 public:
  virtual ~TokenSource() = default;
  // The file that holds the ids (for Megatron datasets, the .bin).
  virtual const std::filesystem::path& path() const = 0;
  virtual std::size_t document_count() const = 0;
  // Throws Error naming the file when `index` is out of range.
  virtual TokenView document(std::size_t index) const = 0;
  virtual uint64_t total_tokens() const = 0;

  // Whether the corpus records which tokens the loss covers (SFT data, where
  // only the assistant's tokens train).
  virtual bool has_loss_spans() const { return false; }
  // The ordered, disjoint, non-empty spans of document `index` whose tokens are
  // loss targets: the whole document when the corpus records no spans.
  virtual std::vector<TokenSpan> trainable_spans(std::size_t index) const;
};

// Throws Error naming the file, document, position and byte offset of the first
// id that is negative or not below vocab_size.
void validate_token_ids(const TokenSource& source, TokenId vocab_size);

}  // namespace hybridize::data
