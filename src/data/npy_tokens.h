#pragma once
// Token ids in a NumPy .npy file (format versions 1.0, 2.0 and 3.0): a 1-D
// array is one document (a token stream, nanoGPT style), a 2-D array is one
// document per row (fixed-length samples). Only little-endian integer dtypes
// in C order; anything else is refused with the reason.
#include <filesystem>

#include "core/mapped_file.h"
#include "data/token_source.h"

namespace hybridize::data {

class NpyTokens : public TokenSource {
 public:
  // Throws Error naming the file and the byte offset of a bad header field.
  explicit NpyTokens(const std::filesystem::path& path);

  const std::filesystem::path& path() const override { return file_.path(); }
  std::size_t document_count() const override { return rows_; }
  TokenView document(std::size_t index) const override;
  uint64_t total_tokens() const override { return uint64_t(rows_) * row_length_; }
  TokenDType dtype() const { return dtype_; }

 private:
  MappedFile file_;
  TokenDType dtype_ = TokenDType::U16;
  std::size_t data_offset_ = 0;
  std::size_t rows_ = 0;
  std::size_t row_length_ = 0;
};

}  // namespace hybridize::data
