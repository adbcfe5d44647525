#include "data/npy_tokens.h"

#include <cctype>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "core/error.h"
#include "data/little_endian.h"

namespace hybridize::data {

namespace {

constexpr std::string_view kMagic{"\x93NUMPY", 6};
constexpr std::size_t kMaxHeaderBytes = 1 << 20;  // real headers are < 200 bytes

using Shape = std::vector<uint64_t>;
using HeaderValue = std::variant<std::string, bool, Shape>;

// Parses the header: a Python dict literal with string keys whose values are
// strings, True/False or tuples of integers, e.g.
// {'descr': '<u2', 'fortran_order': False, 'shape': (1000,), }
class HeaderParser {
 public:
  HeaderParser(std::string_view text, std::size_t file_offset, std::string where)
      : text_(text), file_offset_(file_offset), where_(std::move(where)) {}

  std::map<std::string, HeaderValue> parse_dict() {
    std::map<std::string, HeaderValue> dict;
    expect('{');
    while (!consume('}')) {
      std::string key = parse_string();
      expect(':');
      dict[key] = parse_value();
      if (!consume(',')) {
        expect('}');
        break;
      }
    }
    return dict;
  }

 private:
  [[noreturn]] void error(const std::string& what) const {
    fail(where_, ": bad .npy header at byte offset ", file_offset_ + at_, ": ", what);
  }
  void skip_space() {
    while (at_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[at_]))) ++at_;
  }
  bool consume(char c) {
    skip_space();
    if (at_ < text_.size() && text_[at_] == c) return ++at_, true;
    return false;
  }
  void expect(char c) {
    if (!consume(c)) error(std::string("expected '") + c + "'");
  }
  std::string parse_string() {
    skip_space();
    if (at_ >= text_.size() || (text_[at_] != '\'' && text_[at_] != '"')) error("expected a quoted string");
    const char quote = text_[at_++];
    const std::size_t end = text_.find(quote, at_);
    if (end == std::string_view::npos) error("unterminated string");
    std::string value(text_.substr(at_, end - at_));
    at_ = end + 1;
    return value;
  }
  uint64_t parse_integer() {
    skip_space();
    const std::size_t begin = at_;
    uint64_t value = 0;
    while (at_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[at_]))) {
      if (__builtin_mul_overflow(value, 10u, &value) ||
          __builtin_add_overflow(value, uint64_t(text_[at_] - '0'), &value))
        error("dimension overflows 64 bits");
      ++at_;
    }
    if (at_ == begin) error("expected a non-negative integer dimension");
    return value;
  }
  HeaderValue parse_value() {
    skip_space();
    if (at_ < text_.size() && (text_[at_] == '\'' || text_[at_] == '"')) return parse_string();
    if (text_.substr(at_, 4) == "True") return at_ += 4, true;
    if (text_.substr(at_, 5) == "False") return at_ += 5, false;
    if (consume('(')) {
      Shape shape;
      while (!consume(')')) {
        shape.push_back(parse_integer());
        if (!consume(',')) {
          expect(')');
          break;
        }
      }
      return shape;
    }
    if (at_ < text_.size() && text_[at_] == '[') error("structured dtypes are not token ids");
    error("expected a string, True, False or a tuple");
  }

  std::string_view text_;
  std::size_t file_offset_;
  std::string where_;
  std::size_t at_ = 0;
};

TokenDType parse_descr(const std::string& descr, const std::string& where) {
  if (descr.size() < 3) fail(where, ": dtype '", descr, "' is not an integer dtype");
  const char order = descr[0], kind = descr[1];
  if (order == '>') fail(where, ": dtype '", descr, "' is big-endian; only little-endian token ids are read");
  if (kind != 'i' && kind != 'u')
    fail(where, ": dtype '", descr, "' is not an integer dtype; token ids must be integers");
  const std::string bytes = descr.substr(2);
  const bool is_unsigned = kind == 'u';
  TokenDType dtype;
  if (bytes == "1")
    dtype = is_unsigned ? TokenDType::U8 : TokenDType::I8;
  else if (bytes == "2")
    dtype = is_unsigned ? TokenDType::U16 : TokenDType::I16;
  else if (bytes == "4")
    dtype = is_unsigned ? TokenDType::U32 : TokenDType::I32;
  else if (bytes == "8")
    dtype = is_unsigned ? TokenDType::U64 : TokenDType::I64;
  else
    fail(where, ": dtype '", descr, "' has an unsupported width");
  // '|' means "byte order irrelevant", which holds only for one-byte types.
  if (order != '<' && !(order == '|' && bytes == "1")) fail(where, ": dtype '", descr, "' has an unknown byte order");
  return dtype;
}

template <class T>
const T& header_field(const std::map<std::string, HeaderValue>& dict, const std::string& key,
                      const std::string& where) {
  const auto it = dict.find(key);
  if (it == dict.end()) fail(where, ": .npy header lacks '", key, "'");
  const T* value = std::get_if<T>(&it->second);
  if (value == nullptr) fail(where, ": .npy header field '", key, "' has the wrong type");
  return *value;
}

}  // namespace

NpyTokens::NpyTokens(const std::filesystem::path& path) : file_(path) {
  const std::string where = path.string();
  const auto bytes = file_.bytes();
  if (bytes.size() < 10 || std::string_view(reinterpret_cast<const char*>(bytes.data()), kMagic.size()) != kMagic)
    fail(where, ": not a .npy file (no \\x93NUMPY magic at byte offset 0)");
  const int major = std::to_integer<int>(bytes[6]);
  const int minor = std::to_integer<int>(bytes[7]);
  if (minor != 0 || major < 1 || major > 3)
    fail(where, ": unsupported .npy format version ", major, ".", minor, " at byte offset 6");
  const std::size_t length_size = major == 1 ? 2 : 4;
  const std::size_t header_offset = 8 + length_size;
  if (bytes.size() < header_offset) fail(where, ": truncated .npy header length at byte offset 8");
  const uint64_t header_length =
      major == 1 ? load_little_endian<uint16_t>(bytes.data() + 8) : load_little_endian<uint32_t>(bytes.data() + 8);
  if (header_length > kMaxHeaderBytes) fail(where, ": .npy header length ", header_length, " exceeds 1 MiB");
  if (header_length > bytes.size() - header_offset)
    fail(where, ": .npy header length ", header_length, " runs past the end of the file (", bytes.size(), " bytes)");
  const std::string_view header(reinterpret_cast<const char*>(bytes.data() + header_offset), header_length);

  const auto dict = HeaderParser(header, header_offset, where).parse_dict();
  dtype_ = parse_descr(header_field<std::string>(dict, "descr", where), where);
  if (header_field<bool>(dict, "fortran_order", where))
    fail(where, ": fortran_order arrays are not supported; save the array in C order");
  const Shape& shape = header_field<Shape>(dict, "shape", where);
  if (shape.empty() || shape.size() > 2)
    fail(where, ": array has ", shape.size(), " dimensions; token ids need 1 (a stream) or 2 (rows)");
  const uint64_t rows = shape.size() == 1 ? 1 : shape[0];
  const uint64_t row_length = shape.back();
  const std::size_t width = token_dtype_size(dtype_);
  uint64_t data_bytes = 0;
  if (__builtin_mul_overflow(rows, row_length, &data_bytes) || __builtin_mul_overflow(data_bytes, width, &data_bytes))
    fail(where, ": shape overflows 64 bits");
  data_offset_ = header_offset + header_length;
  if (bytes.size() - data_offset_ != data_bytes)
    fail(where, ": shape needs ", data_bytes, " data bytes after byte offset ", data_offset_, " but the file has ",
         bytes.size() - data_offset_, " (truncated?)");
  rows_ = static_cast<std::size_t>(rows);
  row_length_ = static_cast<std::size_t>(row_length);
}

TokenView NpyTokens::document(std::size_t index) const {
  if (index >= rows_) fail(path().string(), ": document ", index, " out of range (", rows_, " documents)");
  const uint64_t offset = data_offset_ + uint64_t(index) * row_length_ * token_dtype_size(dtype_);
  return TokenView(row_length_ == 0 ? nullptr : file_.bytes().data() + offset, row_length_, dtype_, offset);
}

}  // namespace hybridize::data
