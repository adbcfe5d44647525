#include "data/raw_tokens.h"

#include "core/error.h"

namespace hybridize::data {

RawTokens::RawTokens(const std::filesystem::path& path, TokenDType dtype) : file_(path), dtype_(dtype) {
  const std::size_t width = token_dtype_size(dtype);
  if (file_.size() % width != 0)
    fail(path.string(), ": ", file_.size(), " bytes is not a whole number of ", token_dtype_name(dtype),
         " tokens (wrong width, or truncated)");
}

TokenView RawTokens::document(std::size_t index) const {
  if (index != 0) fail(path().string(), ": document ", index, " out of range (1 document)");
  return TokenView(file_.bytes().data(), total_tokens(), dtype_, 0);
}

}  // namespace hybridize::data
