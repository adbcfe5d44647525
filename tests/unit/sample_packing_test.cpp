// Packing a token corpus into fixed-length samples: across or within
// documents, tails dropped or padded, shuffled deterministically.
#include <algorithm>
#include <map>
#include <numeric>
#include <set>

#include "catch.h"
#include "data/sample_packing.h"

using namespace hybridize;
using namespace hybridize::data;

namespace {

// Documents held in memory, each id unique (document * 100 + position) so a
// sample shows exactly where each of its ids came from.
class MemorySource : public TokenSource {
 public:
  explicit MemorySource(const std::vector<std::size_t>& lengths) {
    for (std::size_t d = 0; d < lengths.size(); ++d) {
      std::vector<int32_t> ids(lengths[d]);
      for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = int32_t(100 * d + i);
      documents_.push_back(std::move(ids));
    }
  }
  const std::filesystem::path& path() const override { return path_; }
  std::size_t document_count() const override { return documents_.size(); }
  TokenView document(std::size_t index) const override {
    const auto& ids = documents_.at(index);
    return TokenView(reinterpret_cast<const std::byte*>(ids.data()), ids.size(), TokenDType::I32, 0);
  }
  uint64_t total_tokens() const override {
    uint64_t total = 0;
    for (const auto& ids : documents_) total += ids.size();
    return total;
  }

 private:
  std::filesystem::path path_ = "memory";
  std::vector<std::vector<int32_t>> documents_;
};

std::vector<TokenId> concatenation(const TokenSource& source) {
  std::vector<TokenId> all;
  for (std::size_t d = 0; d < source.document_count(); ++d)
    source.document(d).append_to(all, 0, source.document(d).size());
  return all;
}

std::vector<std::vector<TokenId>> all_samples(const PackedSamples& samples) {
  std::vector<std::vector<TokenId>> out;
  for (std::size_t i = 0; i < samples.size(); ++i) out.push_back(samples.sample(i).tokens);
  return out;
}

}  // namespace

TEST_CASE("packing across documents covers the stream with one shared id between samples", "[data]") {
  const MemorySource source({5, 0, 3, 7, 2});  // 17 ids
  const auto stream = concatenation(source);
  const std::size_t seq_len = 4;

  SECTION("full samples only") {
    const PackedSamples samples(source, {.seq_len = seq_len});
    REQUIRE(samples.size() == 4);  // starts 0, 4, 8, 12; each needs 5 ids
    for (std::size_t k = 0; k < samples.size(); ++k) {
      const auto sample = samples.sample(k);
      CHECK(sample.real_tokens == seq_len + 1);
      CHECK(sample.tokens ==
            std::vector<TokenId>(stream.begin() + k * seq_len, stream.begin() + k * seq_len + seq_len + 1));
    }
  }
  SECTION("a padded tail") {
    const MemorySource longer({5, 0, 3, 7, 4});  // 19 ids: a tail of 3 after start 16
    const PackedSamples samples(longer, {.seq_len = seq_len, .tail = PartialTail::Pad, .pad_id = 999});
    REQUIRE(samples.size() == 5);
    const auto tail = samples.sample(4);
    CHECK(tail.real_tokens == 3);
    CHECK(tail.tokens == std::vector<TokenId>{401, 402, 403, 999, 999});
  }
  SECTION("a tail of a single id carries no target and is dropped even when padding") {
    const PackedSamples samples(source, {.seq_len = seq_len, .tail = PartialTail::Pad, .pad_id = 0});
    CHECK(samples.size() == 4);  // 17 = 4 * 4 + 1
  }
}

TEST_CASE("packing within documents never mixes two documents", "[data]") {
  const MemorySource source({5, 1, 9, 0, 3});
  const std::size_t seq_len = 4;
  const auto document_of = [](TokenId id) { return id / 100; };

  const PackedSamples dropped(source, {.seq_len = seq_len, .boundaries = DocumentBoundaries::Respect});
  // doc 0 (5 ids): one full; doc 2 (9 ids): two full; doc 4 (3 ids): none
  CHECK(all_samples(dropped) ==
        std::vector<std::vector<TokenId>>{{0, 1, 2, 3, 4}, {200, 201, 202, 203, 204}, {204, 205, 206, 207, 208}});

  const PackedSamples padded(
      source, {.seq_len = seq_len, .boundaries = DocumentBoundaries::Respect, .tail = PartialTail::Pad, .pad_id = 7});
  REQUIRE(padded.size() == 4);  // + doc 4's 3 ids; doc 1's single id has no target
  const auto tail = padded.sample(3);
  CHECK(tail.tokens == std::vector<TokenId>{400, 401, 402, 7, 7});
  CHECK(tail.real_tokens == 3);
  for (std::size_t i = 0; i < padded.size(); ++i) {
    const auto sample = padded.sample(i);
    std::set<TokenId> documents;
    for (std::size_t t = 0; t < sample.real_tokens; ++t) documents.insert(document_of(sample.tokens[t]));
    CHECK(documents.size() == 1);
  }
}

TEST_CASE("shuffling is a seeded permutation of the same samples", "[data]") {
  std::vector<std::size_t> lengths(40);
  std::iota(lengths.begin(), lengths.end(), 3);
  const MemorySource source(lengths);
  const PackingOptions plain{.seq_len = 8};
  PackingOptions shuffled = plain;
  shuffled.shuffle_seed = 1234;

  const auto in_order = all_samples(PackedSamples(source, plain));
  const auto first = all_samples(PackedSamples(source, shuffled));
  const auto again = all_samples(PackedSamples(source, shuffled));
  shuffled.shuffle_seed = 1235;
  const auto other_seed = all_samples(PackedSamples(source, shuffled));

  CHECK(first == again);
  CHECK(first != in_order);
  CHECK(first != other_seed);
  auto sorted_first = first, sorted_order = in_order;
  std::sort(sorted_first.begin(), sorted_first.end());
  std::sort(sorted_order.begin(), sorted_order.end());
  CHECK(sorted_first == sorted_order);

  // Pinned: a given seed must give the same order on every machine and library version.
  PackingOptions pinned{.seq_len = 1};
  pinned.shuffle_seed = 1234;
  const MemorySource eleven({11});  // sample k is {k, k + 1}
  const PackedSamples order(eleven, pinned);
  std::vector<TokenId> starts;
  for (std::size_t i = 0; i < order.size(); ++i) starts.push_back(order.sample(i).tokens[0]);
  CHECK(starts == std::vector<TokenId>{0, 3, 4, 7, 9, 8, 5, 6, 1, 2});
}

TEST_CASE("packing options are checked", "[data][bad-input]") {
  const MemorySource source({4});
  REQUIRE_ERROR(PackedSamples(source, {.seq_len = 0}), "memory: sample packing needs seq_len >= 1");
  REQUIRE_ERROR(PackedSamples(source, {.seq_len = 2, .tail = PartialTail::Pad}),
                "padding partial samples needs a pad_id");
  REQUIRE_ERROR(PackedSamples(source, {.seq_len = 2}).sample(1), "sample 1 out of range (1 samples)");
  CHECK(PackedSamples(MemorySource({}), {.seq_len = 2}).size() == 0);
}

namespace {

// MemorySource whose documents train on positions 2-3, 6-7, 10-11, ... only, the
// way SFT data trains on assistant turns.
class SpannedSource : public MemorySource {
 public:
  using MemorySource::MemorySource;
  static bool trains(TokenId id) { return (id % 100) / 2 % 2 == 1; }
  bool has_loss_spans() const override { return true; }
  std::vector<TokenSpan> trainable_spans(std::size_t index) const override {
    std::vector<TokenSpan> spans;
    const uint64_t size = document(index).size();
    for (uint64_t begin = 2; begin < size; begin += 4) spans.push_back({begin, std::min(begin + 2, size)});
    return spans;
  }
};

// Every sample's loss mask matches the spans of the ids it holds, and is 0 on padding.
void check_masks(const PackedSamples& samples) {
  REQUIRE(samples.size() > 0);
  for (std::size_t k = 0; k < samples.size(); ++k) {
    const auto sample = samples.sample(k);
    REQUIRE(sample.loss_mask.size() == sample.tokens.size());
    for (std::size_t t = 0; t < sample.tokens.size(); ++t) {
      INFO("sample " << k << ", token " << t << ", id " << sample.tokens[t]);
      CHECK(bool(sample.loss_mask[t]) == (t < sample.real_tokens && SpannedSource::trains(sample.tokens[t])));
    }
  }
}

}  // namespace

TEST_CASE("the loss mask follows each document's trainable spans, across and within documents", "[data]") {
  const SpannedSource source({7, 0, 3, 10, 2, 5});
  check_masks(PackedSamples(source, {.seq_len = 4, .tail = PartialTail::Pad, .pad_id = 3}));
  check_masks(PackedSamples(
      source, {.seq_len = 3, .boundaries = DocumentBoundaries::Respect, .tail = PartialTail::Pad, .pad_id = 3}));
  PackingOptions shuffled{.seq_len = 5};
  shuffled.shuffle_seed = 9;
  check_masks(PackedSamples(source, shuffled));
  // A corpus without spans trains on every real token.
  const MemorySource plain({6});
  const auto sample = PackedSamples(plain, {.seq_len = 8, .tail = PartialTail::Pad, .pad_id = 0}).sample(0);
  CHECK(sample.loss_mask == std::vector<uint8_t>{1, 1, 1, 1, 1, 1, 0, 0, 0});
}
