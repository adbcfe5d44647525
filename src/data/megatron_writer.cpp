#include "data/megatron_writer.h"

#include <limits>

#include "core/error.h"
#include "data/little_endian.h"
#include "data/megatron_format.h"

namespace hybridize::data {

namespace {

struct IdRange {
  TokenId min;
  TokenId max;
};

IdRange representable(TokenDType dtype) {
  switch (dtype) {
    case TokenDType::U8:
      return {0, 0xff};
    case TokenDType::I8:
      return {-128, 127};
    case TokenDType::I16:
      return {-32768, 32767};
    case TokenDType::U16:
      return {0, 0xffff};
    case TokenDType::I32:
      return {std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()};
    default:
      return {std::numeric_limits<TokenId>::min(), std::numeric_limits<TokenId>::max()};
  }
}

}  // namespace

MegatronWriter::MegatronWriter(const std::filesystem::path& prefix, TokenDType dtype)
    : prefix_(prefix), dtype_(dtype), bin_(megatron::bin_path(prefix)) {
  if (!megatron::code_from_dtype(dtype))
    fail(megatron::idx_path(prefix).string(), ": Megatron indexed datasets cannot store ", token_dtype_name(dtype));
}

std::string MegatronWriter::where() const { return megatron::bin_path(prefix_).string(); }

void MegatronWriter::add_document(std::span<const TokenId> ids, std::span<const TokenSpan> trainable) {
  const std::size_t document = lengths_.size();
  uint64_t previous_end = 0;
  for (std::size_t i = 0; i < trainable.size(); ++i) {
    const TokenSpan& span = trainable[i];
    if (span.begin >= span.end || span.end > ids.size() || (i > 0 && span.begin < previous_end))
      fail(where(), ": document ", document, ": trainable span ", i, " [", span.begin, ", ", span.end,
           ") is empty, past the document's ", ids.size(), " tokens, or not after the span before it");
    previous_end = span.end;
  }
  add_document(ids);
  has_spans_ = true;
  // The gaps between trainable spans are what Fast-LLM masks.
  int32_t count = 0;
  uint64_t at = 0;
  const auto mask = [&](uint64_t begin, uint64_t end) {
    if (begin >= end) return;
    masked_spans_.push_back(static_cast<int32_t>(begin));
    masked_spans_.push_back(static_cast<int32_t>(end - 1));
    ++count;
  };
  for (const TokenSpan& span : trainable) mask(at, span.begin), at = span.end;
  mask(at, ids.size());
  masked_counts_.back() = count;
}

void MegatronWriter::add_document(std::span<const TokenId> ids) {
  if (finished_) fail(where(), ": document added after finish()");
  if (ids.size() > std::size_t(std::numeric_limits<int32_t>::max()))
    fail(where(), ": document ", lengths_.size(), " has ", ids.size(),
         " tokens, more than the index's int32 lengths hold");
  const std::size_t width = token_dtype_size(dtype_);
  const IdRange range = representable(dtype_);
  buffer_.resize(ids.size() * width);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const TokenId id = ids[i];
    if (id < range.min || id > range.max)
      fail(where(), ": document ", lengths_.size(), ", token ", i, ": id ", id, " does not fit ",
           token_dtype_name(dtype_));
    std::byte* out = buffer_.data() + i * width;
    switch (width) {
      case 1:
        store_little_endian<uint8_t>(static_cast<uint8_t>(id), out);
        break;
      case 2:
        store_little_endian<uint16_t>(static_cast<uint16_t>(id), out);
        break;
      case 4:
        store_little_endian<uint32_t>(static_cast<uint32_t>(id), out);
        break;
      default:
        store_little_endian<uint64_t>(static_cast<uint64_t>(id), out);
        break;
    }
  }
  bin_.write(buffer_.data(), buffer_.size());
  lengths_.push_back(static_cast<int32_t>(ids.size()));
  masked_counts_.push_back(0);
}

void MegatronWriter::finish() {
  if (finished_) fail(megatron::idx_path(prefix_).string(), ": finish() called twice");
  finished_ = true;
  const uint64_t count = lengths_.size();
  const std::size_t width = token_dtype_size(dtype_);
  const std::size_t span_bytes = has_spans_ ? 2 + count * 4 + masked_spans_.size() * 4 : 0;
  std::vector<std::byte> index(megatron::kMagic.size() + 8 + 1 + 16 + count * 12 + (count + 1) * 8 + span_bytes);
  std::byte* out = index.data();
  for (char c : megatron::kMagic) *out++ = std::byte(c);
  store_little_endian<uint64_t>(has_spans_ ? megatron::kSpansVersion : megatron::kVersion, out), out += 8;
  if (has_spans_) {
    *out++ = std::byte(1);  // has loss-masking spans
    *out++ = std::byte(0);  // no preference spans
  }
  *out++ = std::byte(*megatron::code_from_dtype(dtype_));
  store_little_endian<uint64_t>(count, out), out += 8;
  store_little_endian<uint64_t>(count + 1, out), out += 8;
  for (int32_t length : lengths_) store_little_endian<int32_t>(length, out), out += 4;
  uint64_t pointer = 0;
  for (int32_t length : lengths_) {
    store_little_endian<uint64_t>(pointer, out), out += 8;
    pointer += uint64_t(length) * width;
  }
  if (has_spans_) {
    for (int32_t spans : masked_counts_) store_little_endian<int32_t>(spans, out), out += 4;
    for (int32_t position : masked_spans_) store_little_endian<int32_t>(position, out), out += 4;
  }
  for (uint64_t i = 0; i <= count; ++i) store_little_endian<uint64_t>(i, out), out += 8;

  bin_.commit();
  AtomicFileWriter idx(megatron::idx_path(prefix_));
  idx.write(index.data(), index.size());
  idx.commit();
}

}  // namespace hybridize::data
