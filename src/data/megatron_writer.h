#pragma once
// Writes a Megatron-LM indexed dataset (version 1, one sequence per document)
// that Megatron-LM and Fast-LLM read. Both files are written atomically: a
// reader sees the old pair or the new pair, and an unfinished writer leaves
// neither file behind.
#include <filesystem>
#include <span>
#include <vector>

#include "data/token_source.h"
#include "core/atomic_file.h"

namespace hybridize::data {

class MegatronWriter {
 public:
  // `dtype` must be one Megatron has a code for (not uint32/uint64);
  // megatron::dtype_for_vocab picks the usual one.
  MegatronWriter(const std::filesystem::path& prefix, TokenDType dtype);

  // Throws Error naming the document when an id does not fit the dtype.
  void add_document(std::span<const TokenId> ids);
  // Writes the .idx and renames both files into place; commits the .bin first
  // so that a crash in between leaves an index that disagrees with it, which
  // the reader refuses.
  void finish();

  std::size_t document_count() const { return lengths_.size(); }

 private:
  std::filesystem::path prefix_;
  TokenDType dtype_;
  AtomicFileWriter bin_;
  std::vector<int32_t> lengths_;
  std::vector<std::byte> buffer_;
  bool finished_ = false;
};

}  // namespace hybridize::data
