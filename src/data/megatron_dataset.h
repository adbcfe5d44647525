#pragma once
// Reads a Megatron-LM / Fast-LLM indexed dataset (<prefix>.bin + <prefix>.idx,
// layout in megatron_format.h) by memory map. The whole index is validated
// against the .bin when opened, so document() never reads outside the file.
#include <filesystem>
#include <vector>

#include "core/mapped_file.h"
#include "data/token_source.h"

namespace hybridize::data {

class MegatronDataset : public TokenSource {
 public:
  // `prefix` is the path without ".bin"/".idx". Throws Error naming the file
  // (and byte offset or document) on any defect.
  explicit MegatronDataset(const std::filesystem::path& prefix);

  const std::filesystem::path& path() const override { return bin_.path(); }
  const std::filesystem::path& index_path() const { return idx_.path(); }
  std::size_t document_count() const override { return document_count_; }
  TokenView document(std::size_t index) const override;
  uint64_t total_tokens() const override { return total_tokens_; }
  uint64_t version() const { return version_; }
  // Fast-LLM's loss-masking spans, read back as their complement.
  bool has_loss_spans() const override { return has_spans_; }
  std::vector<TokenSpan> trainable_spans(std::size_t index) const override;

 private:
  uint64_t length(std::size_t index) const;
  uint64_t pointer(std::size_t index) const;

  MappedFile idx_;
  MappedFile bin_;
  uint64_t version_ = 0;
  TokenDType dtype_ = TokenDType::U16;
  std::size_t document_count_ = 0;
  std::size_t lengths_offset_ = 0;   // into the .idx
  std::size_t pointers_offset_ = 0;  // into the .idx
  uint64_t total_tokens_ = 0;
  bool has_spans_ = false;
  std::size_t spans_offset_ = 0;      // into the .idx: the [first, last] pairs
  std::vector<uint64_t> first_span_;  // per document, then the total span count
};

}  // namespace hybridize::data
