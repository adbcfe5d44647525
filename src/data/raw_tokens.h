#pragma once
// A headerless file of little-endian token ids (nanoGPT's train.bin): one
// document, the id width chosen by the caller since the file cannot say.
#include <filesystem>

#include "core/mapped_file.h"
#include "data/token_source.h"

namespace hybridize::data {

class RawTokens : public TokenSource {
 public:
  // Throws Error naming the file when its size is not a multiple of the width.
  RawTokens(const std::filesystem::path& path, TokenDType dtype);

  const std::filesystem::path& path() const override { return file_.path(); }
  std::size_t document_count() const override { return 1; }
  TokenView document(std::size_t index) const override;
  uint64_t total_tokens() const override { return file_.size() / token_dtype_size(dtype_); }

 private:
  MappedFile file_;
  TokenDType dtype_;
};

}  // namespace hybridize::data
