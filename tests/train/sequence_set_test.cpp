// Which predictions a corpus's sequences count: the loss spans `data tokenize`
// records (assistant tokens of SFT data), every token when asked to ignore
// them or when there are none, and never a sample with nothing to count.
#include <torch/torch.h>

#include "catch.h"
#include "core/hashing.h"
#include "data/megatron_writer.h"
#include "temp_dir.h"
#include "train/sequence_set.h"

using namespace hybridize;
using hybridize::testing::TempDir;

namespace {

// Eight documents of 8 ids; with seq_len 8 sample k holds document k and the
// first id of document k + 1, so there are 7 samples. Documents train on ids
// [3, 6), but documents 1 and 4 on nothing (a window of user turns).
void write_corpus(const std::filesystem::path& prefix, bool with_spans) {
  data::MegatronWriter writer(prefix, data::TokenDType::U16);
  for (int64_t document = 0; document < 8; ++document) {
    std::vector<data::TokenId> ids;
    for (int64_t i = 0; i < 8; ++i) ids.push_back(document * 10 + i + 1);
    if (!with_spans)
      writer.add_document(ids);
    else if (document == 1 || document == 4)
      writer.add_document(ids, std::vector<data::TokenSpan>{});
    else
      writer.add_document(ids, std::vector<data::TokenSpan>{{3, 6}});
  }
  writer.finish();
}

data::SequenceSpec corpus_spec(const std::filesystem::path& prefix, int64_t samples, int64_t offset) {
  data::SequenceSpec spec;
  spec.source = prefix.string();
  spec.samples = samples;
  spec.offset = offset;
  spec.seq_len = 8;
  spec.seed = 3;
  return spec;
}

// The first id of each row: which document a sample is.
std::vector<int64_t> documents_of(const train::SequenceSet& set) {
  std::vector<int64_t> documents;
  for (int64_t row = 0; row < set.size(); ++row) documents.push_back(set.input_ids[row][0].item<int64_t>() / 10);
  return documents;
}

}  // namespace

TEST_CASE("a corpus's loss spans decide which predictions count, unless ignored", "[data]") {
  TempDir dir;
  write_corpus(dir / "sft", true);

  const auto set = train::load_sequences(corpus_spec(dir / "sft", 5, 0), 1000);
  REQUIRE(set.size() == 5);
  for (const int64_t document : documents_of(set)) CHECK((document != 1 && document != 4));
  // Ids 3, 4, 5 of each document are targets: predictions at positions 2, 3, 4.
  const auto expected = at::tensor(std::vector<int64_t>{0, 0, 1, 1, 1, 0, 0, 0}).to(at::kBool);
  for (int64_t row = 0; row < set.size(); ++row) CHECK(at::equal(set.loss_mask[row], expected));
  CHECK(set.counted_tokens() == 15);
  CHECK(set.counted.find("loss spans: 15 of 40 predictions") != std::string::npos);
  CHECK(set.counted.find("2 samples without any passed over") != std::string::npos);

  SECTION("the samples after an offset are usable ones, so held-out and training sets never overlap") {
    const auto held_out = train::load_sequences(corpus_spec(dir / "sft", 2, 0), 1000);
    const auto training = train::load_sequences(corpus_spec(dir / "sft", 3, 2), 1000);
    auto all = documents_of(held_out);
    const auto more = documents_of(training);
    all.insert(all.end(), more.begin(), more.end());
    CHECK(all == documents_of(set));
    REQUIRE_ERROR(train::load_sequences(corpus_spec(dir / "sft", 4, 2), 1000),
                  "holds 5 samples of 8 tokens with loss targets, fewer than the 6");
  }
  SECTION("ignoring the spans counts every prediction, under another data spec") {
    auto spec = corpus_spec(dir / "sft", 7, 0);
    spec.ignore_loss_spans = true;
    const auto everything = train::load_sequences(spec, 1000);
    CHECK(everything.counted_tokens() == 7 * 8);
    CHECK(everything.counted == "every token (the corpus's loss spans ignored)");
    CHECK(everything.spec.find(":all-tokens") != std::string::npos);
    CHECK(everything.content_hash != train::load_sequences(corpus_spec(dir / "sft", 5, 0), 1000).content_hash);
  }
}

TEST_CASE("a corpus without loss spans counts every prediction, with the hash it always had", "[data]") {
  TempDir dir;
  write_corpus(dir / "plain", false);
  const auto set = train::load_sequences(corpus_spec(dir / "plain", 7, 0), 1000);
  CHECK(set.counted_tokens() == 7 * 8);
  CHECK(set.counted == "every token (the corpus has no loss spans)");
  // A mask that counts every prediction hashes as "first counted position 1", as before spans were
  // followed: stores scored on such corpora keep their data hashes.
  ContentHasher hasher;
  for (int64_t row = 0; row < set.size(); ++row) {
    std::vector<int64_t> ids(set.input_ids[row].data_ptr<int64_t>(), set.input_ids[row].data_ptr<int64_t>() + 8);
    ids.push_back(set.targets[row][7].item<int64_t>());
    const int64_t first_counted = 1;
    hasher.update(ids.data(), ids.size() * sizeof(int64_t));
    hasher.update(&first_counted, sizeof first_counted);
    hasher.update("|");
  }
  CHECK(set.content_hash == hasher.hex_digest());
}
