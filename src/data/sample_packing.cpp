#include "data/sample_packing.h"

#include <algorithm>
#include <random>

#include "core/error.h"

namespace hybridize::data {

namespace {

// Start offsets of the samples that fit in `length` ids: full ones, then a
// partial tail when asked for and when it holds at least one input and target.
template <class Emit>
void for_each_sample_start(uint64_t length, uint64_t seq_len, PartialTail tail, Emit&& emit) {
  uint64_t begin = 0;
  for (; begin + seq_len + 1 <= length; begin += seq_len) emit(begin);
  if (tail == PartialTail::Pad && length >= begin + 2) emit(begin);
}

}  // namespace

PackedSamples::PackedSamples(const TokenSource& source, PackingOptions options)
    : source_(source), options_(std::move(options)) {
  if (options_.seq_len == 0) fail(source.path().string(), ": sample packing needs seq_len >= 1");
  if (options_.tail == PartialTail::Pad && options_.pad_id < 0)
    fail(source.path().string(), ": padding partial samples needs a pad_id");

  const std::size_t documents = source.document_count();
  if (options_.boundaries == DocumentBoundaries::Respect) {
    for (std::size_t doc = 0; doc < documents; ++doc)
      for_each_sample_start(source.document(doc).size(), options_.seq_len, options_.tail, [&](uint64_t begin) {
        pieces_.push_back({doc, begin});
      });
  } else {
    document_starts_.reserve(documents + 1);
    uint64_t total = 0;
    for (std::size_t doc = 0; doc < documents; ++doc) {
      document_starts_.push_back(total);
      total += source.document(doc).size();
    }
    document_starts_.push_back(total);
    for_each_sample_start(total, options_.seq_len, options_.tail, [&](uint64_t begin) {
      pieces_.push_back({0, begin});
    });
  }

  order_.resize(pieces_.size());
  for (std::size_t i = 0; i < order_.size(); ++i) order_[i] = i;
  if (options_.shuffle_seed) {
    // Fisher-Yates on mt19937_64, both fully specified, unlike std::shuffle and
    // the standard distributions, so every platform gets the same order.
    std::mt19937_64 random(*options_.shuffle_seed);
    for (std::size_t i = order_.size(); i > 1; --i) std::swap(order_[i - 1], order_[random() % i]);
  }
}

void PackedSamples::append_document(std::size_t document, uint64_t begin, uint64_t end, PackedSample& out) const {
  source_.document(document).append_to(out.tokens, begin, end);
  const std::size_t first = out.loss_mask.size();
  out.loss_mask.resize(first + (end - begin), 0);
  for (const TokenSpan& span : source_.trainable_spans(document))
    for (uint64_t at = std::max(span.begin, begin); at < std::min(span.end, end); ++at)
      out.loss_mask[first + at - begin] = 1;
}

void PackedSamples::append_stream(uint64_t begin, uint64_t end, PackedSample& out) const {
  // The document holding `begin`: the last whose start is <= begin (skipping empty ones).
  auto doc = std::size_t(std::upper_bound(document_starts_.begin(), document_starts_.end() - 1, begin) -
                         document_starts_.begin()) -
             1;
  for (uint64_t at = begin; at < end; ++doc) {
    const uint64_t stop = std::min(end, document_starts_[doc + 1]);
    append_document(doc, at - document_starts_[doc], stop - document_starts_[doc], out);
    at = stop;
  }
}

PackedSample PackedSamples::sample(std::size_t index) const {
  if (index >= order_.size())
    fail(source_.path().string(), ": sample ", index, " out of range (", order_.size(), " samples)");
  const Piece& piece = pieces_[order_[index]];
  const uint64_t want = options_.seq_len + 1;
  PackedSample sample;
  sample.tokens.reserve(want);
  sample.loss_mask.reserve(want);
  if (options_.boundaries == DocumentBoundaries::Respect) {
    const uint64_t size = source_.document(piece.document).size();
    append_document(piece.document, piece.begin, std::min<uint64_t>(size, piece.begin + want), sample);
  } else {
    append_stream(piece.begin, std::min(document_starts_.back(), piece.begin + want), sample);
  }
  sample.real_tokens = sample.tokens.size();
  sample.tokens.resize(want, options_.pad_id);
  sample.loss_mask.resize(want, 0);
  return sample;
}

}  // namespace hybridize::data
