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
      fail(where, ": truncated index: ", field, " at byte offset ", at, " needs ", count, " bytes but the file has ", size);
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
  at += version_ - 1;  // Fast-LLM's span flag bytes: spans are not used here

  need(1, "dtype code");
  const uint8_t code = std::to_integer<uint8_t>(base[at]);
  const auto dtype = megatron::dtype_from_code(code);
  if (!dtype) {
    if (code == 6 || code == 7) fail(where, ": dtype code ", int(code), " at byte offset ", at, " is floating point, not token ids");
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

  if (version_ == 1) {
    // Megatron's document indices group sequences into documents: 0, ..., S.
    if (document_index_count == 0 || document_index_count > (size - at) / 8)
      fail(where, ": document-index count ", document_index_count, " does not fit the ", size - at,
           " bytes left after the pointers (file truncated, or counts disagree)");
    const uint64_t expected = at + 8 * document_index_count;
    if (size != expected && size != expected + sequence_count)  // + optional i8 modes
      fail(where, ": index has ", size, " bytes but its counts describe ", expected, " (counts disagree with the file)");
    uint64_t previous = 0;
    for (uint64_t i = 0; i < document_index_count; ++i) {
      const auto value = load_little_endian<uint64_t>(base + at + 8 * i);
      const bool last = i + 1 == document_index_count;
      if ((i == 0 && value != 0) || value < previous || value > sequence_count || (last && value != sequence_count))
        fail(where, ": document index ", i, " (byte offset ", at + 8 * i, ") is ", static_cast<int64_t>(value),
             "; indices must rise from 0 to the sequence count ", sequence_count);
      previous = value;
    }
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

}  // namespace hybridize::data
