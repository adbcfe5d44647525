#include "data/megatron_dataset.h"

#include "core/error.h"
#include "data/little_endian.h"
#include "data/megatron_format.h"

namespace hybridize::data {

MegatronDataset::MegatronDataset(const std::filesystem::path& prefix)
    : idx_(megatron::idx_path(prefix)), bin_(megatron::bin_path(prefix)) {
  const std::string where = idx_.path().string();
  const auto bytes = idx_.bytes();
  const std::byte* base = bytes.data();
  const std::size_t size = bytes.size();
  std::size_t at = 0;
  // Every fixed-size field is checked for room before it is read.
  const auto need = [&](std::size_t count, const char* field) {
    if (size - at < count)
      fail(where, ": truncated index: ", field, " at byte offset ", at, " needs ", count, " bytes but the file has ",
           size);
  };

  need(megatron::kMagic.size(), "magic");
  if (std::string_view(reinterpret_cast<const char*>(base), megatron::kMagic.size()) != megatron::kMagic)
    fail(where, ": not a Megatron index (magic at byte offset 0 is not MMIDIDX)");
  at += megatron::kMagic.size();

  need(8, "version");
  version_ = load_little_endian<uint64_t>(base + at);
  if (version_ < 1 || version_ > megatron::kNewestFastLlmVersion)
    fail(where, ": unsupported index version ", version_, " at byte offset ", at,
         " (known: 1 from Megatron-LM, 2-3 from Fast-LLM)");
  at += 8;
  bool has_preference_spans = false;
  if (version_ >= 2) {  // Fast-LLM's flags: loss-masking spans, then (version 3) preference spans
    need(version_ - 1, "span flags");
    for (std::size_t i = 0; i + 1 < version_; ++i)
      if (std::to_integer<uint8_t>(base[at + i]) > 1)
        fail(where, ": span flag at byte offset ", at + i, " is ", std::to_integer<int>(base[at + i]), ", not 0 or 1");
    has_spans_ = base[at] == std::byte(1);
    has_preference_spans = version_ >= 3 && base[at + 1] == std::byte(1);
    at += version_ - 1;
  }

  need(1, "dtype code");
  const uint8_t code = std::to_integer<uint8_t>(base[at]);
  const auto dtype = megatron::dtype_from_code(code);
  if (!dtype) {
    if (code == 6 || code == 7)
      fail(where, ": dtype code ", int(code), " at byte offset ", at, " is floating point, not token ids");
    fail(where, ": unknown dtype code ", int(code), " at byte offset ", at);
  }
  dtype_ = *dtype;
  at += 1;

  need(16, "counts");
  const uint64_t sequence_count = load_little_endian<uint64_t>(base + at);
  const uint64_t document_index_count = load_little_endian<uint64_t>(base + at + 8);
  at += 16;
  if (sequence_count > (size - at) / 12)
    fail(where, ": sequence count ", sequence_count, " at byte offset ", at - 16, " needs ", sequence_count,
         " lengths and pointers but the file has only ", size, " bytes");
  document_count_ = static_cast<std::size_t>(sequence_count);
  lengths_offset_ = at;
  pointers_offset_ = at + 4 * document_count_;
  at = pointers_offset_ + 8 * document_count_;

  // Megatron's document indices group sequences into documents: 0, ..., S. They
  // follow the pointers (version 1) or the span tables; Fast-LLM files without
  // spans are not checked past the pointers, since their writers differ there.
  const auto check_document_indices = [&](const char* after) {
    if (document_index_count == 0 || document_index_count > (size - at) / 8)
      fail(where, ": document-index count ", document_index_count, " does not fit the ", size - at,
           " bytes left after the ", after, " (file truncated, or counts disagree)");
    const uint64_t expected = at + 8 * document_index_count;
    const bool with_modes = version_ == 1 && size == expected + sequence_count;  // optional i8 modes
    if (size != expected && !with_modes)
      fail(where, ": index has ", size, " bytes but its counts describe ", expected,
           " (counts disagree with the file)");
    uint64_t previous = 0;
    for (uint64_t i = 0; i < document_index_count; ++i) {
      const auto value = load_little_endian<uint64_t>(base + at + 8 * i);
      const bool last = i + 1 == document_index_count;
      if ((i == 0 && value != 0) || value < previous || value > sequence_count || (last && value != sequence_count))
        fail(where, ": document index ", i, " (byte offset ", at + 8 * i, ") is ", static_cast<int64_t>(value),
             "; indices must rise from 0 to the sequence count ", sequence_count);
      previous = value;
    }
  };
  if (version_ == 1) check_document_indices("pointers");

  if (has_spans_) {
    // Span counts, then every document's [first, last] pairs; each span holds at
    // least one token, so a count never exceeds its document's length.
    need(4 * document_count_, "loss-masking span counts");
    first_span_.assign(document_count_ + 1, 0);
    for (std::size_t i = 0; i < document_count_; ++i) {
      const auto count = load_little_endian<int32_t>(base + at + 4 * i);
      const auto tokens = load_little_endian<int32_t>(base + lengths_offset_ + 4 * i);
      if (tokens < 0) fail(where, ": document ", i, " has negative length ", tokens);
      if (count < 0 || count > tokens)
        fail(where, ": document ", i, " has ", count, " loss-masking spans (byte offset ", at + 4 * i,
             "), more than its ", tokens, " tokens allow");
      first_span_[i + 1] = first_span_[i] + uint64_t(count);
    }
    at += 4 * document_count_;
    spans_offset_ = at;
    if (first_span_.back() > (size - at) / 8)
      fail(where, ": truncated index: ", first_span_.back(), " loss-masking spans at byte offset ", at, " need ",
           8 * first_span_.back(), " bytes but the file has ", size);
    for (std::size_t i = 0; i < document_count_; ++i) {
      int64_t previous_last = -1;
      for (uint64_t s = first_span_[i]; s < first_span_[i + 1]; ++s) {
        const std::size_t offset = at + 8 * s;
        const auto first = load_little_endian<int32_t>(base + offset);
        const auto last = load_little_endian<int32_t>(base + offset + 4);
        if (first <= previous_last || first > last || uint64_t(last) >= length(i))
          fail(where, ": document ", i, ": loss-masking span [", first, ", ", last, "] at byte offset ", offset,
               " is reversed, outside the document's ", length(i), " tokens, or not after the span before it");
        previous_last = last;
      }
    }
    at += 8 * first_span_.back();
    if (has_preference_spans) {
      need(16 * document_count_, "preference spans");
      at += 16 * document_count_;
    }
    check_document_indices("spans");
  }

  const std::size_t width = token_dtype_size(dtype_);
  const uint64_t bin_size = bin_.size();
  for (std::size_t i = 0; i < document_count_; ++i) {
    const auto length = load_little_endian<int32_t>(base + lengths_offset_ + 4 * i);
    const auto pointer = load_little_endian<int64_t>(base + pointers_offset_ + 8 * i);
    if (length < 0) fail(where, ": document ", i, " has negative length ", length);
    if (pointer < 0 || uint64_t(pointer) % width != 0)
      fail(where, ": document ", i, " has pointer ", pointer, ", not a non-negative multiple of ", width);
    const uint64_t end = uint64_t(pointer) + uint64_t(length) * width;  // both < 2^63 + 2^34: no overflow
    if (end > bin_size)
      fail(bin_.path().string(), ": document ", i, " spans bytes [", pointer, ", ", end, ") past the end of the file (",
           bin_size, " bytes; truncated, or index from another .bin?)");
    total_tokens_ += uint64_t(length);
  }
}

uint64_t MegatronDataset::length(std::size_t index) const {
  return uint64_t(load_little_endian<int32_t>(idx_.bytes().data() + lengths_offset_ + 4 * index));
}

uint64_t MegatronDataset::pointer(std::size_t index) const {
  return uint64_t(load_little_endian<int64_t>(idx_.bytes().data() + pointers_offset_ + 8 * index));
}

TokenView MegatronDataset::document(std::size_t index) const {
  if (index >= document_count_)
    fail(path().string(), ": document ", index, " out of range (", document_count_, " documents)");
  const uint64_t offset = pointer(index);
  const uint64_t count = length(index);
  // An empty .bin maps to no address at all; empty documents need none.
  return TokenView(count == 0 ? nullptr : bin_.bytes().data() + offset, count, dtype_, offset);
}

std::vector<TokenSpan> MegatronDataset::trainable_spans(std::size_t index) const {
  if (!has_spans_) return TokenSource::trainable_spans(index);
  if (index >= document_count_)
    fail(index_path().string(), ": document ", index, " out of range (", document_count_, " documents)");
  std::vector<TokenSpan> spans;
  uint64_t at = 0;
  const auto keep = [&](uint64_t end) {
    if (at < end) spans.push_back({at, end});
  };
  for (uint64_t s = first_span_[index]; s < first_span_[index + 1]; ++s) {
    const std::byte* pair = idx_.bytes().data() + spans_offset_ + 8 * s;
    keep(uint64_t(load_little_endian<int32_t>(pair)));
    at = uint64_t(load_little_endian<int32_t>(pair + 4)) + 1;
  }
  keep(length(index));
  return spans;
}

}  // namespace hybridize::data
