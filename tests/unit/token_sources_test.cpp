// Token corpora: Megatron .bin/.idx (reader and writer), .npy and raw token
// files behind one TokenSource, and what they do with damaged files.
// Built torch-free and under AddressSanitizer (tests/CMakeLists.txt).
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "catch.h"
#include "data/megatron_dataset.h"
#include "data/megatron_format.h"
#include "data/megatron_writer.h"
#include "data/npy_tokens.h"
#include "data/open_token_source.h"
#include "data/raw_tokens.h"
#include "temp_dir.h"

using namespace hybridize;
using namespace hybridize::data;
using hybridize::testing::read_text;
using hybridize::testing::TempDir;
using hybridize::testing::write_text;

namespace {

const std::vector<std::vector<TokenId>> kDocuments{{5, 6, 7}, {}, {65535, 0}, {1, 2, 3, 4, 5}};

void write_megatron(const std::filesystem::path& prefix, TokenDType dtype,
                    const std::vector<std::vector<TokenId>>& documents = kDocuments) {
  MegatronWriter writer(prefix, dtype);
  for (const auto& document : documents) writer.add_document(document);
  writer.finish();
}

std::vector<std::vector<TokenId>> read_all(const TokenSource& source) {
  std::vector<std::vector<TokenId>> documents;
  for (std::size_t i = 0; i < source.document_count(); ++i) documents.push_back(source.document(i).to_vector());
  return documents;
}

template <class Int>
void put(std::string& bytes, std::size_t offset, Int value) {
  std::memcpy(bytes.data() + offset, &value, sizeof value);  // the test machine is little-endian
}

template <class Int>
std::string little_endian_bytes(const std::vector<Int>& values) {
  std::string bytes(values.size() * sizeof(Int), '\0');
  if (!values.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

// A .npy file as numpy.save lays it out: magic, version, header length, a
// dict literal padded with spaces and ended by '\n' to a multiple of 64.
std::string npy_file(const std::string& dict, const std::string& data, int major = 1) {
  const std::size_t prefix = major == 1 ? 10 : 12;
  std::string header = dict;
  while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string file = "\x93NUMPY";
  file += char(major);
  file += char(0);
  if (major == 1) {
    file += char(header.size() & 0xff), file += char(header.size() >> 8);
  } else {
    for (int i = 0; i < 4; ++i) file += char((header.size() >> (8 * i)) & 0xff);
  }
  return file + header + data;
}

}  // namespace

TEST_CASE("Megatron writer and reader round-trip documents", "[data]") {
  TempDir dir;
  const auto prefix = dir / "corpus.v1";  // a dot in the prefix must survive
  write_megatron(prefix, TokenDType::U16);

  const MegatronDataset dataset(prefix);
  CHECK(dataset.version() == 1);
  CHECK(dataset.document_count() == 4);
  CHECK(dataset.total_tokens() == 10);
  CHECK(read_all(dataset) == kDocuments);
  CHECK(dataset.document(2).byte_offset() == 6);  // after 3 uint16 ids and an empty document
  CHECK(dataset.document(1).empty());
  // The index has exactly Megatron's layout size: header, lengths, pointers, document indices 0..4.
  CHECK(std::filesystem::file_size(dir / "corpus.v1.idx") == 34 + 4 * 12 + 5 * 8);
  CHECK(std::filesystem::file_size(dir / "corpus.v1.bin") == 20);
  REQUIRE_ERROR(dataset.document(4), "corpus.v1.bin: document 4 out of range (4 documents)");

  SECTION("int32 ids, as Megatron picks for large vocabularies") {
    const std::vector<std::vector<TokenId>> big{{200000, 7}, {151935}};
    write_megatron(dir / "big", megatron::dtype_for_vocab(200001), big);
    CHECK(read_all(MegatronDataset(dir / "big")) == big);
  }
}

TEST_CASE("Megatron dtype choice and codes follow Megatron-LM", "[data]") {
  CHECK(megatron::dtype_for_vocab(32000) == TokenDType::U16);
  CHECK(megatron::dtype_for_vocab(65500) == TokenDType::I32);
  CHECK(megatron::dtype_from_code(8) == TokenDType::U16);
  CHECK(megatron::dtype_from_code(4) == TokenDType::I32);
  CHECK_FALSE(megatron::dtype_from_code(6).has_value());
  CHECK_FALSE(megatron::code_from_dtype(TokenDType::U32).has_value());
}

TEST_CASE("Megatron writer refuses ids that do not fit and leaves no files behind", "[data][bad-input]") {
  TempDir dir;
  REQUIRE_ERROR(MegatronWriter(dir / "x", TokenDType::U32), "cannot store uint32");
  {
    MegatronWriter writer(dir / "x", TokenDType::U16);
    writer.add_document(std::vector<TokenId>{1, 2});
    REQUIRE_ERROR(writer.add_document(std::vector<TokenId>{3, 65536}),
                  "document 1, token 1: id 65536 does not fit uint16");
    REQUIRE_ERROR(writer.add_document(std::vector<TokenId>{-1}), "id -1 does not fit uint16");
  }  // destroyed without finish()
  CHECK(std::filesystem::is_empty(dir.path()));
}

TEST_CASE("Fast-LLM version 3 indices are read past their span flags", "[data]") {
  TempDir dir;
  write_megatron(dir / "v1", TokenDType::U16);
  std::string index = read_text(dir / "v1.idx");
  put<uint64_t>(index, 9, 3);
  index.insert(17, std::string("\0\0", 2));  // no loss-masking spans, no preference spans
  write_text(dir / "v3.idx", index);
  std::filesystem::copy_file(dir / "v1.bin", dir / "v3.bin");
  const MegatronDataset dataset(dir / "v3");
  CHECK(dataset.version() == 3);
  CHECK(read_all(dataset) == kDocuments);
}

namespace {

// Documents with their trainable spans: inner runs, all, none, an empty document.
const std::vector<std::vector<TokenId>> kSpanDocuments{{9, 8, 7, 6, 5, 4}, {1, 2, 3}, {4, 4, 4, 4}, {}, {7, 7}};
const std::vector<std::vector<TokenSpan>> kTrainable{{{2, 4}}, {{0, 3}}, {{1, 2}, {3, 4}}, {}, {}};

void write_with_spans(const std::filesystem::path& prefix) {
  MegatronWriter writer(prefix, TokenDType::U16);
  for (std::size_t d = 0; d < kSpanDocuments.size(); ++d) writer.add_document(kSpanDocuments[d], kTrainable[d]);
  writer.finish();
}

std::vector<std::vector<TokenSpan>> all_spans(const TokenSource& source) {
  std::vector<std::vector<TokenSpan>> spans;
  for (std::size_t d = 0; d < source.document_count(); ++d) spans.push_back(source.trainable_spans(d));
  return spans;
}

}  // namespace

TEST_CASE("trainable spans round-trip as Fast-LLM version 3 loss-masking spans", "[data]") {
  TempDir dir;
  write_with_spans(dir / "sft");
  const MegatronDataset dataset(dir / "sft");
  CHECK(dataset.version() == 3);
  CHECK(dataset.has_loss_spans());
  CHECK(read_all(dataset) == kSpanDocuments);
  CHECK(all_spans(dataset) == kTrainable);

  // On disk: the complement, [first, last] inclusive, after the pointers.
  const std::string index = read_text(dir / "sft.idx");
  const std::size_t counts = 9 + 8 + 2 + 1 + 16 + 5 * 12;
  REQUIRE(index.size() == counts + 4 * (5 + 2 * 5) + 8 * 6);  // 5 spans, then document indices 0..5
  std::vector<int32_t> stored(5 + 2 * 5);
  std::memcpy(stored.data(), index.data() + counts, 4 * stored.size());
  CHECK(stored == std::vector<int32_t>{2, 0, 2, 0, 1,  // spans per document
                                       0, 1, 4, 5,     // document 0 trains on [2, 4)
                                       0, 0, 2, 2,     // document 2 trains on 1 and 3
                                       0, 1});         // document 4 trains on nothing

  SECTION("documents added without spans train on every token") {
    MegatronWriter writer(dir / "mixed", TokenDType::U16);
    writer.add_document(std::vector<TokenId>{1, 2, 3});
    writer.add_document(std::vector<TokenId>{4, 5}, std::vector<TokenSpan>{{1, 2}});
    writer.finish();
    CHECK(all_spans(MegatronDataset(dir / "mixed")) == std::vector<std::vector<TokenSpan>>{{{0, 3}}, {{1, 2}}});
  }
  SECTION("touching spans come back merged") {
    MegatronWriter writer(dir / "touch", TokenDType::U16);
    writer.add_document(std::vector<TokenId>{1, 2, 3, 4}, std::vector<TokenSpan>{{0, 1}, {1, 3}});
    writer.finish();
    CHECK(all_spans(MegatronDataset(dir / "touch")) == std::vector<std::vector<TokenSpan>>{{{0, 3}}});
  }
  SECTION("corpora without spans train on whole documents") {
    write_megatron(dir / "plain", TokenDType::U16);
    const MegatronDataset plain(dir / "plain");
    CHECK_FALSE(plain.has_loss_spans());
    CHECK(plain.trainable_spans(0) == std::vector<TokenSpan>{{0, 3}});
    CHECK(plain.trainable_spans(1).empty());
  }
}

TEST_CASE("the writer refuses trainable spans that are empty, outside or out of order", "[data][bad-input]") {
  TempDir dir;
  MegatronWriter writer(dir / "x", TokenDType::U16);
  const std::vector<TokenId> ids{1, 2, 3, 4};
  REQUIRE_ERROR(writer.add_document(ids, std::vector<TokenSpan>{{2, 2}}), "document 0: trainable span 0 [2, 2)");
  REQUIRE_ERROR(writer.add_document(ids, std::vector<TokenSpan>{{3, 5}}),
                "trainable span 0 [3, 5) is empty, past the document's 4 tokens");
  REQUIRE_ERROR(writer.add_document(ids, std::vector<TokenSpan>{{0, 3}, {2, 4}}), "trainable span 1 [2, 4)");
  REQUIRE_ERROR(writer.add_document(ids, std::vector<TokenSpan>{{2, 3}, {0, 1}}), "not after the span before it");
  CHECK(writer.document_count() == 0);
}

TEST_CASE("damaged loss-masking span tables are refused with the document named", "[data][bad-input]") {
  TempDir dir;
  write_with_spans(dir / "s");
  const std::string good = read_text(dir / "s.idx");
  const std::string idx = (dir / "s.idx").string();
  std::string index = good;
  // Offsets: flags 17 and 18, lengths 36, pointers 56, span counts 96, spans 116, document indices 156.
  const auto refuse = [&](const std::string& message) {
    write_text(dir / "s.idx", index);
    REQUIRE_ERROR(MegatronDataset(dir / "s"), message);
  };
  SECTION("a flag byte that is neither 0 nor 1") {
    index[17] = 2;
    refuse(idx + ": span flag at byte offset 17 is 2, not 0 or 1");
  }
  SECTION("more spans than tokens") {
    put<int32_t>(index, 96 + 4, 4);
    refuse(idx + ": document 1 has 4 loss-masking spans (byte offset 100), more than its 3 tokens allow");
  }
  SECTION("a negative span count") {
    put<int32_t>(index, 96, -1);
    refuse("document 0 has -1 loss-masking spans");
  }
  SECTION("a span past the document end") {
    put<int32_t>(index, 116 + 12, 6);
    refuse(idx +
           ": document 0: loss-masking span [4, 6] at byte offset 124 is reversed, outside the document's 6 tokens");
  }
  SECTION("overlapping spans") {
    put<int32_t>(index, 116 + 8, 1);
    refuse("document 0: loss-masking span [1, 5] at byte offset 124");
  }
  SECTION("a reversed span") {
    put<int32_t>(index, 116 + 16, 1);
    refuse("document 2: loss-masking span [1, 0]");
  }
  SECTION("spans cut off") {
    index.resize(130);
    refuse(idx + ": truncated index: 5 loss-masking spans at byte offset 116 need 40 bytes but the file has 130");
  }
  SECTION("document indices missing after the spans") {
    index.resize(index.size() - 8);
    refuse("document-index count 6 does not fit the 40 bytes left after the spans");
  }
}

TEST_CASE("the Megatron and .npy references written with numpy read back, and the writer matches them byte for byte",
          "[data]") {
  const char* reference = std::getenv("HYBRIDIZE_MEGATRON_REFERENCE_DIR");
  if (!reference) FAIL("HYBRIDIZE_MEGATRON_REFERENCE_DIR is not set (run through ctest, which makes the references)");
  const std::filesystem::path dir = reference;
  const auto expected = nlohmann::json::parse(read_text(dir / "expected.json"));
  TempDir out;
  for (const char* name : {"ref_u16", "ref_i32"}) {
    INFO(name);
    const auto documents = expected.at(name).get<std::vector<std::vector<TokenId>>>();
    const MegatronDataset dataset(dir / name);
    CHECK(read_all(dataset) == documents);
    write_megatron(out / name, dataset.document(0).dtype(), documents);
    CHECK(read_text(out / (std::string(name) + ".idx")) == read_text(dir / (std::string(name) + ".idx")));
    CHECK(read_text(out / (std::string(name) + ".bin")) == read_text(dir / (std::string(name) + ".bin")));
  }
  const auto& with_spans = expected.at("ref_spans");
  const auto documents = with_spans.at("documents").get<std::vector<std::vector<TokenId>>>();
  std::vector<std::vector<TokenSpan>> trainable;
  for (const auto& spans : with_spans.at("trainable")) {
    trainable.emplace_back();
    for (const auto& span : spans) trainable.back().push_back({span.at(0).get<uint64_t>(), span.at(1).get<uint64_t>()});
  }
  const MegatronDataset dataset(dir / "ref_spans");
  CHECK(read_all(dataset) == documents);
  CHECK(all_spans(dataset) == trainable);
  {
    MegatronWriter writer(out / "ref_spans", TokenDType::U16);
    for (std::size_t d = 0; d < documents.size(); ++d) writer.add_document(documents[d], trainable[d]);
    writer.finish();
  }
  CHECK(read_text(out / "ref_spans.idx") == read_text(dir / "ref_spans.idx"));
  CHECK(read_text(out / "ref_spans.bin") == read_text(dir / "ref_spans.bin"));
  const NpyTokens rows(dir / "ref_rows.npy");
  CHECK(read_all(rows) == expected.at("ref_rows").get<std::vector<std::vector<TokenId>>>());
}

TEST_CASE("damaged Megatron datasets are refused with the file and place named", "[data][bad-input]") {
  TempDir dir;
  const auto prefix = dir / "d";
  write_megatron(prefix, TokenDType::U16);
  const std::string good = read_text(dir / "d.idx");
  const std::string idx = (dir / "d.idx").string();
  std::string index = good;
  // Offsets: magic 0, version 9, dtype 17, counts 18 and 26, lengths 34, pointers 50, document indices 82.

  SECTION("missing .bin") {
    std::filesystem::remove(dir / "d.bin");
    REQUIRE_ERROR(MegatronDataset(prefix), "d.bin: no such file");
  }
  SECTION("wrong magic") {
    index[0] = 'X';
    write_text(dir / "d.idx", index);
    REQUIRE_ERROR(MegatronDataset(prefix), idx + ": not a Megatron index");
  }
  SECTION("unknown version") {
    put<uint64_t>(index, 9, 9);
    write_text(dir / "d.idx", index);
    REQUIRE_ERROR(MegatronDataset(prefix), idx + ": unsupported index version 9 at byte offset 9");
  }
  SECTION("floating-point dtype code") {
    index[17] = 6;
    write_text(dir / "d.idx", index);
    REQUIRE_ERROR(MegatronDataset(prefix), "dtype code 6 at byte offset 17 is floating point");
  }
  SECTION("unknown dtype code") {
    index[17] = 42;
    write_text(dir / "d.idx", index);
    REQUIRE_ERROR(MegatronDataset(prefix), idx + ": unknown dtype code 42 at byte offset 17");
  }
  SECTION("index cut inside the header") {
    index.resize(20);
    write_text(dir / "d.idx", index);
    REQUIRE_ERROR(MegatronDataset(prefix), "truncated index: counts at byte offset 18");
  }
  SECTION("index cut inside the document indices") {
    index.resize(index.size() - 4);
    write_text(dir / "d.idx", index);
    REQUIRE_ERROR(MegatronDataset(prefix), "document-index count 5 does not fit");
  }
  SECTION("sequence count larger than the file") {
    put<uint64_t>(index, 18, uint64_t(1) << 40);
    write_text(dir / "d.idx", index);
    REQUIRE_ERROR(MegatronDataset(prefix), "sequence count 1099511627776 at byte offset 18");
  }
  SECTION("counts disagree with each other") {
    put<uint64_t>(index, 18, 3);  // one sequence fewer: the rest no longer lines up
    write_text(dir / "d.idx", index);
    REQUIRE_ERROR(MegatronDataset(prefix), idx + ": index has 122 bytes but its counts describe 110");
  }
  SECTION("document indices that do not end at the sequence count") {
    put<int64_t>(index, 82 + 4 * 8, 3);
    write_text(dir / "d.idx", index);
    REQUIRE_ERROR(MegatronDataset(prefix), "document index 4 (byte offset 114) is 3");
  }
  SECTION(".bin truncated under the last document") {
    std::string bin = read_text(dir / "d.bin");
    bin.resize(bin.size() - 2);
    write_text(dir / "d.bin", bin);
    REQUIRE_ERROR(MegatronDataset(prefix), "d.bin: document 3 spans bytes [10, 20) past the end of the file (18 bytes");
  }
  SECTION("pointer past the .bin end") {
    put<int64_t>(index, 50 + 8, 4000);
    write_text(dir / "d.idx", index);
    REQUIRE_ERROR(MegatronDataset(prefix), "document 1 spans bytes [4000, 4000) past the end");
  }
  SECTION("negative length") {
    put<int32_t>(index, 34 + 4, -3);
    write_text(dir / "d.idx", index);
    REQUIRE_ERROR(MegatronDataset(prefix), idx + ": document 1 has negative length -3");
  }
  SECTION("pointer not aligned to the token width") {
    put<int64_t>(index, 50 + 16, 7);
    write_text(dir / "d.idx", index);
    REQUIRE_ERROR(MegatronDataset(prefix), "document 2 has pointer 7, not a non-negative multiple of 2");
  }
}

TEST_CASE(".npy token arrays: 1-D streams and 2-D rows", "[data]") {
  TempDir dir;
  SECTION("1-D uint16, version 1.0") {
    write_text(dir / "a.npy", npy_file("{'descr': '<u2', 'fortran_order': False, 'shape': (4,), }",
                                       little_endian_bytes<uint16_t>({9, 8, 65535, 0})));
    const NpyTokens tokens(dir / "a.npy");
    CHECK(tokens.document_count() == 1);
    CHECK(tokens.total_tokens() == 4);
    CHECK(tokens.document(0).to_vector() == std::vector<TokenId>{9, 8, 65535, 0});
    CHECK(tokens.document(0).byte_offset() == 128);  // numpy pads the header to 64-byte multiples
  }
  SECTION("2-D int32 rows, version 2.0") {
    write_text(dir / "b.npy", npy_file("{'descr': '<i4', 'fortran_order': False, 'shape': (3, 2), }",
                                       little_endian_bytes<int32_t>({1, 2, 3, 4, 100000, 6}), 2));
    const NpyTokens tokens(dir / "b.npy");
    CHECK(read_all(tokens) == std::vector<std::vector<TokenId>>{{1, 2}, {3, 4}, {100000, 6}});
    CHECK(tokens.total_tokens() == 6);
    REQUIRE_ERROR(tokens.document(3), "b.npy: document 3 out of range (3 documents)");
  }
  SECTION("one-byte ids with '|' byte order and double quotes") {
    write_text(dir / "c.npy", npy_file(R"({"descr": "|u1", "shape": (2,), "fortran_order": False})", "\x07\xff"));
    CHECK(NpyTokens(dir / "c.npy").document(0).to_vector() == std::vector<TokenId>{7, 255});
  }
  SECTION("uint64 ids past int64 come out negative and fail validation") {
    write_text(dir / "d.npy", npy_file("{'descr': '<u8', 'fortran_order': False, 'shape': (1,), }",
                                       little_endian_bytes<uint64_t>({~uint64_t(0)})));
    REQUIRE_ERROR(validate_token_ids(NpyTokens(dir / "d.npy"), 100), "id -1 is outside the vocabulary");
  }
}

TEST_CASE("bad .npy files are refused with the file and reason named", "[data][bad-input]") {
  TempDir dir;
  const auto path = dir / "bad.npy";
  const std::string file = path.string();
  const auto refuse = [&](const std::string& content, const std::string& message) {
    write_text(path, content);
    REQUIRE_ERROR(NpyTokens(path), message);
  };
  const std::string two_u2 = little_endian_bytes<uint16_t>({1, 2});
  refuse("PK\x03\x04 not numpy at all", file + ": not a .npy file");
  refuse(npy_file("{'descr': '<u2', 'fortran_order': False, 'shape': (2,), }", two_u2, 4),
         "unsupported .npy format version 4.0");
  refuse(npy_file("{'descr': '<u2', 'fortran_order': True, 'shape': (2,), }", two_u2),
         "fortran_order arrays are not supported");
  refuse(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", "abcd"),
         "dtype '<f4' is not an integer dtype");
  refuse(npy_file("{'descr': '>u2', 'fortran_order': False, 'shape': (2,), }", two_u2), "dtype '>u2' is big-endian");
  refuse(npy_file("{'descr': '<u3', 'fortran_order': False, 'shape': (2,), }", two_u2), "unsupported width");
  refuse(npy_file("{'descr': '<u2', 'fortran_order': False, 'shape': (1, 1, 2), }", two_u2), "array has 3 dimensions");
  refuse(npy_file("{'descr': '<u2', 'fortran_order': False, 'shape': (), }", two_u2), "array has 0 dimensions");
  refuse(npy_file("{'descr': '<u2', 'fortran_order': False, 'shape': (3,), }", two_u2),
         "shape needs 6 data bytes after byte offset 128 but the file has 4 (truncated?)");
  refuse(npy_file("{'descr': '<u2', 'fortran_order': False, 'shape': (99999999999, 99999999999), }", two_u2),
         "shape overflows 64 bits");
  refuse(npy_file("{'descr': '<u2', 'fortran_order': False, 'shape': (2,) ", two_u2), "bad .npy header at byte offset");
  refuse(npy_file("{'descr': [('a', '<u2')], 'fortran_order': False, 'shape': (2,), }", two_u2),
         "bad .npy header at byte offset 20: structured dtypes are not token ids");
  refuse(npy_file("{'fortran_order': False, 'shape': (2,), }", two_u2), ".npy header lacks 'descr'");
  refuse(npy_file("{'descr': 3, 'fortran_order': False, 'shape': (2,), }", two_u2),
         "bad .npy header at byte offset 20");
  refuse(npy_file("{'descr': '<u2', 'fortran_order': 'no', 'shape': (2,), }", two_u2),
         "header field 'fortran_order' has the wrong type");
  std::string long_header = npy_file("{'descr': '<u2', 'fortran_order': False, 'shape': (2,), }", two_u2);
  long_header[8] = char(0xff);
  refuse(long_header, "header length 255 runs past the end of the file");
}

TEST_CASE("raw token files: the caller's width, whole tokens only", "[data]") {
  TempDir dir;
  write_text(dir / "train.bin", little_endian_bytes<uint16_t>({3, 1, 4, 1, 5, 9}));
  const RawTokens u16(dir / "train.bin", TokenDType::U16);
  CHECK(u16.total_tokens() == 6);
  CHECK(u16.document(0).to_vector() == std::vector<TokenId>{3, 1, 4, 1, 5, 9});
  const RawTokens u32(dir / "train.bin", TokenDType::U32);
  CHECK(u32.document(0).to_vector() == std::vector<TokenId>{65536 + 3, 65536 + 4, 9 * 65536 + 5});
  write_text(dir / "odd.bin", "\x01\x02\x03");
  REQUIRE_ERROR(RawTokens(dir / "odd.bin", TokenDType::U16), "odd.bin: 3 bytes is not a whole number of uint16 tokens");
  write_text(dir / "empty.bin", "");
  CHECK(RawTokens(dir / "empty.bin", TokenDType::U32).total_tokens() == 0);
}

TEST_CASE("open_token_source picks the format from the path", "[data]") {
  TempDir dir;
  write_megatron(dir / "mega", TokenDType::U16);
  write_text(dir / "stream.npy", npy_file("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }",
                                          little_endian_bytes<int64_t>({11, 12})));
  write_text(dir / "nano.bin", little_endian_bytes<uint32_t>({70000}));

  for (const char* name : {"mega", "mega.bin", "mega.idx"})
    CHECK(read_all(*open_token_source(dir / name)) == kDocuments);
  CHECK(open_token_source(dir / "stream.npy")->document(0).to_vector() == std::vector<TokenId>{11, 12});
  CHECK(open_token_source(dir / "nano.bin", TokenDType::U32)->document(0).to_vector() == std::vector<TokenId>{70000});
  REQUIRE_ERROR(open_token_source(dir / "nano.bin"), "nano.bin: not a .npy file and no Megatron index beside it");
}

TEST_CASE("token ids outside the vocabulary are reported with document and offset", "[data][bad-input]") {
  TempDir dir;
  write_megatron(dir / "d", TokenDType::U16);
  const MegatronDataset dataset(dir / "d");
  validate_token_ids(dataset, 65536);  // the largest id is 65535
  REQUIRE_ERROR(validate_token_ids(dataset, 32000),
                (dir / "d.bin").string() +
                    ": document 2, token 0 (byte offset 6): id 65535 is outside the vocabulary [0, 32000)");
  write_text(dir / "neg.npy", npy_file("{'descr': '<i2', 'fortran_order': False, 'shape': (2, 2), }",
                                       little_endian_bytes<int16_t>({1, 2, 3, -4})));
  REQUIRE_ERROR(validate_token_ids(NpyTokens(dir / "neg.npy"), 10), "document 1, token 1 (byte offset 134): id -4");
}

TEST_CASE("randomly damaged .idx and .npy files load or fail cleanly, never read out of bounds",
          "[data][bad-input][fuzz]") {
  TempDir dir;
  write_megatron(dir / "good", TokenDType::U16);
  const std::string good_index = read_text(dir / "good.idx");
  std::filesystem::copy_file(dir / "good.bin", dir / "m.bin");
  write_with_spans(dir / "spans");
  const std::string good_span_index = read_text(dir / "spans.idx");
  std::filesystem::copy_file(dir / "spans.bin", dir / "s.bin");
  const std::string good_npy = npy_file("{'descr': '<u2', 'fortran_order': False, 'shape': (3, 2), }",
                                        little_endian_bytes<uint16_t>({1, 2, 3, 4, 5, 6}));
  std::mt19937 random(11);
  int loaded = 0, refused = 0;
  const auto mutate = [&](std::string bytes, int trial) {
    switch (trial % 3) {
      case 0:  // flip a few bytes anywhere
        for (int k = 0; k < 1 + int(random() % 4); ++k) bytes[random() % bytes.size()] = char(random());
        break;
      case 1:  // truncate
        bytes.resize(random() % bytes.size());
        break;
      case 2:  // small change to one byte of the header and counts, where it matters most
        bytes[random() % std::min<std::size_t>(bytes.size(), 64)] += char(1 + random() % 3);
        break;
    }
    return bytes;
  };
  const auto touch_every_token = [](const TokenSource& source) {
    volatile TokenId sink = 0;
    for (std::size_t d = 0; d < source.document_count(); ++d) {
      const TokenView tokens = source.document(d);
      for (std::size_t i = 0; i < tokens.size(); ++i) sink = tokens[i];
      uint64_t previous_end = 0;
      for (const TokenSpan& span : source.trainable_spans(d)) {  // what the reader validated must hold
        CHECK((span.begin >= previous_end && span.begin < span.end && span.end <= tokens.size()));
        previous_end = span.end;
      }
    }
    (void)sink;
  };
  for (int trial = 0; trial < 3000; ++trial) {
    const int kind = trial % 3;  // Megatron, Megatron with spans, .npy
    if (kind == 0) write_text(dir / "m.idx", mutate(good_index, trial / 3));
    if (kind == 1) write_text(dir / "s.idx", mutate(good_span_index, trial / 3));
    if (kind == 2) write_text(dir / "m.npy", mutate(good_npy, trial / 3));
    try {
      if (kind == 0)
        touch_every_token(MegatronDataset(dir / "m"));
      else if (kind == 1)
        touch_every_token(MegatronDataset(dir / "s"));
      else
        touch_every_token(NpyTokens(dir / "m.npy"));
      ++loaded;
    } catch (const Error& error) {
      CHECK(std::string(error.what()).find('\n') == std::string::npos);
      ++refused;
    }
  }
  CHECK(refused > 750);  // the mutations do damage files...
  CHECK(loaded > 0);     // ...and some (changed token bytes, padding) leave them valid
}
