#include "data/token_source.h"

#include "core/error.h"
#include "data/little_endian.h"

namespace hybridize::data {

std::size_t token_dtype_size(TokenDType dtype) {
  switch (dtype) {
    case TokenDType::U8:
    case TokenDType::I8:
      return 1;
    case TokenDType::I16:
    case TokenDType::U16:
      return 2;
    case TokenDType::I32:
    case TokenDType::U32:
      return 4;
    case TokenDType::I64:
    case TokenDType::U64:
      return 8;
  }
  fail("unknown token dtype enum value ", static_cast<int>(dtype));
}

std::string_view token_dtype_name(TokenDType dtype) {
  switch (dtype) {
    case TokenDType::U8:
      return "uint8";
    case TokenDType::I8:
      return "int8";
    case TokenDType::I16:
      return "int16";
    case TokenDType::U16:
      return "uint16";
    case TokenDType::I32:
      return "int32";
    case TokenDType::U32:
      return "uint32";
    case TokenDType::I64:
      return "int64";
    case TokenDType::U64:
      return "uint64";
  }
  fail("unknown token dtype enum value ", static_cast<int>(dtype));
}

TokenId TokenView::operator[](std::size_t index) const {
  switch (dtype_) {
    case TokenDType::U8:
      return load_little_endian<uint8_t>(data_ + index);
    case TokenDType::I8:
      return load_little_endian<int8_t>(data_ + index);
    case TokenDType::I16:
      return load_little_endian<int16_t>(data_ + 2 * index);
    case TokenDType::U16:
      return load_little_endian<uint16_t>(data_ + 2 * index);
    case TokenDType::I32:
      return load_little_endian<int32_t>(data_ + 4 * index);
    case TokenDType::U32:
      return load_little_endian<uint32_t>(data_ + 4 * index);
    case TokenDType::I64:
      return load_little_endian<int64_t>(data_ + 8 * index);
    // Ids past INT64_MAX come out negative, which validate_token_ids refuses.
    case TokenDType::U64:
      return static_cast<TokenId>(load_little_endian<uint64_t>(data_ + 8 * index));
  }
  return -1;
}

void TokenView::append_to(std::vector<TokenId>& out, std::size_t begin, std::size_t end) const {
  if (begin > end || end > size_) fail("token range [", begin, ", ", end, ") outside a document of ", size_, " tokens");
  out.reserve(out.size() + (end - begin));
  for (std::size_t i = begin; i < end; ++i) out.push_back((*this)[i]);
}

std::vector<TokenId> TokenView::to_vector() const {
  std::vector<TokenId> ids;
  append_to(ids, 0, size_);
  return ids;
}

std::vector<TokenSpan> TokenSource::trainable_spans(std::size_t index) const {
  const std::size_t size = document(index).size();
  if (size == 0) return {};
  return {TokenSpan{0, size}};
}

void validate_token_ids(const TokenSource& source, TokenId vocab_size) {
  for (std::size_t doc = 0; doc < source.document_count(); ++doc) {
    const TokenView tokens = source.document(doc);
    const std::size_t width = token_dtype_size(tokens.dtype());
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      const TokenId id = tokens[i];
      if (id < 0 || id >= vocab_size)
        fail(source.path().string(), ": document ", doc, ", token ", i, " (byte offset ",
             tokens.byte_offset() + i * width, "): id ", id, " is outside the vocabulary [0, ", vocab_size, ")");
    }
  }
}

}  // namespace hybridize::data
