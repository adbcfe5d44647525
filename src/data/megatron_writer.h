#pragma once
// Writes a Megatron-LM indexed dataset (one sequence per document) that
// Megatron-LM and Fast-LLM read: version 1, or Fast-LLM's version 3 with
// loss-masking spans once any document was added with trainable spans. Both files are written atomically: a
// reader sees the old pair or the new pair, and an unfinished writer leaves
// neither file behind.
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "data/token_source.h"

namespace hybridize::data {

class MegatronWriter {
 public:
  // `dtype` must be one Megatron has a code for (not uint32/uint64);
  // megatron::dtype_for_vocab picks the usual one.
  MegatronWriter(const std::filesystem::path& prefix, TokenDType dtype);

  // Throws Error naming the document when an id does not fit the dtype.
  void add_document(std::span<const TokenId> ids);
  // As above, with the spans whose tokens are loss targets (ordered, disjoint,
  // non-empty, inside the document; Error otherwise). The file stores their
  // complement, Fast-LLM's loss-masking spans; touching spans come back merged.
  void add_document(std::span<const TokenId> ids, std::span<const TokenSpan> trainable);
  // Writes the .idx and renames both files into place; commits the .bin first
  // so that a crash in between leaves an index that disagrees with it, which
  // the reader refuses.
  void finish();

  std::size_t document_count() const { return lengths_.size(); }

 private:
  std::string where() const;

  std::filesystem::path prefix_;
  TokenDType dtype_;
  AtomicFileWriter bin_;
  std::vector<int32_t> lengths_;
  std::vector<int32_t> masked_counts_;  // loss-masking spans per document
  std::vector<int32_t> masked_spans_;   // [first, last] pairs, all documents
  bool has_spans_ = false;
  std::vector<std::byte> buffer_;
  bool finished_ = false;
};

}  // namespace hybridize::data
