// The safetensors reader and writer, and what they do with damaged files.
// Built torch-free and under AddressSanitizer (tests/CMakeLists.txt).
#include <cstring>
#include <random>
#include <vector>

#include "catch.h"
#include "io/safetensors.h"
#include "temp_dir.h"

using namespace hybridize;
using namespace hybridize::io;
using hybridize::testing::read_text;
using hybridize::testing::TempDir;
using hybridize::testing::write_text;

namespace {

std::vector<std::byte> bytes_of(const std::vector<float>& values) {
  std::vector<std::byte> out(values.size() * sizeof(float));
  std::memcpy(out.data(), values.data(), out.size());
  return out;
}

// A file with a raw header and data section, for hand-made defects.
void write_raw(const std::filesystem::path& path, const std::string& header, std::size_t data_bytes,
               uint64_t declared_length = UINT64_MAX) {
  const uint64_t length = declared_length == UINT64_MAX ? header.size() : declared_length;
  std::string file(8, '\0');
  for (int i = 0; i < 8; ++i) file[i] = static_cast<char>((length >> (8 * i)) & 0xff);
  file += header;
  file.append(data_bytes, '\x01');
  write_text(path, file);
}

}  // namespace

TEST_CASE("safetensors round trip keeps names, dtypes, shapes, bytes and metadata", "[io]") {
  TempDir dir;
  const auto a = bytes_of({1.f, 2.f, 3.f, 4.f, 5.f, 6.f});
  std::vector<std::byte> b(3 * 2);  // BF16 [3]
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = std::byte(i * 7 + 1);
  std::vector<std::byte> c(5);  // U8 [5], odd size so the next tensor is unaligned
  for (std::size_t i = 0; i < c.size(); ++i) c[i] = std::byte(200 + i);
  std::vector<std::byte> d(2 * 8);  // I64 [2]
  d[0] = std::byte(42);
  const auto path = dir / "t.safetensors";
  write_safetensors(path,
                    {{"a", DType::F32, {2, 3}, a},
                     {"b", DType::BF16, {3}, b},
                     {"c", DType::U8, {5}, c},
                     {"d", DType::I64, {2}, d},
                     {"empty", DType::F16, {0, 4}, {}}},
                    {{"format", "pt"}});

  const auto file = SafetensorsFile::open(path);
  REQUIRE(file->entries().size() == 5);
  REQUIRE(file->metadata().at("format") == "pt");
  const auto& entry = file->entry("a");
  CHECK(entry.dtype == DType::F32);
  CHECK(entry.shape == std::vector<int64_t>{2, 3});
  CHECK(entry.numel() == 6);
  const auto read = file->bytes(entry);
  CHECK(std::equal(read.begin(), read.end(), a.begin(), a.end()));
  const auto read_b = file->bytes(file->entry("b"));
  CHECK(std::equal(read_b.begin(), read_b.end(), b.begin(), b.end()));
  const auto read_d = file->bytes(file->entry("d"));
  CHECK(std::equal(read_d.begin(), read_d.end(), d.begin(), d.end()));
  CHECK(file->entry("empty").numel() == 0);
  CHECK(file->find("missing") == nullptr);
  // The data section starts 8-byte aligned, as readers that map it expect.
  const std::string raw = read_text(path);
  uint64_t header_length = 0;
  std::memcpy(&header_length, raw.data(), 8);
  CHECK((8 + header_length) % 8 == 0);
}

TEST_CASE("every safetensors dtype name parses back to its size", "[io]") {
  for (const char* name : {"BOOL", "U8", "I8", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64", "I64", "U64",
                           "F8_E4M3", "F8_E5M2"}) {
    const auto dtype = parse_dtype(name);
    REQUIRE(dtype.has_value());
    CHECK(dtype_name(*dtype) == name);
  }
  CHECK(dtype_size(DType::BF16) == 2);
  CHECK(dtype_size(DType::F64) == 8);
  CHECK_FALSE(parse_dtype("F4").has_value());
}

TEST_CASE("damaged safetensors files are refused with the file and tensor named", "[io][bad-input]") {
  TempDir dir;
  const auto path = dir / "bad.safetensors";
  const std::string file = path.string();

  SECTION("missing file") {
    REQUIRE_ERROR(SafetensorsFile::open(dir / "absent.safetensors"), "absent.safetensors: no such file");
  }
  SECTION("shorter than the length prefix") {
    write_text(path, "abc");
    REQUIRE_ERROR(SafetensorsFile::open(path), file + ": truncated safetensors file");
  }
  SECTION("header length past the end") {
    write_raw(path, "{}", 0, 4096);
    REQUIRE_ERROR(SafetensorsFile::open(path), "header length 4096 runs past the end of the file");
  }
  SECTION("absurd header length") {
    write_raw(path, "{}", 0, uint64_t(1) << 62);
    REQUIRE_ERROR(SafetensorsFile::open(path), "exceeds the 100 MB limit");
  }
  SECTION("header not JSON") {
    write_raw(path, "{\"a\": [1, 2", 0);
    REQUIRE_ERROR(SafetensorsFile::open(path), "header is not valid JSON");
  }
  SECTION("header a JSON array") {
    write_raw(path, "[1, 2]", 0);
    REQUIRE_ERROR(SafetensorsFile::open(path), "header is not a JSON object");
  }
  SECTION("unknown dtype") {
    write_raw(path, R"({"w": {"dtype": "F7", "shape": [1], "data_offsets": [0, 1]}})", 1);
    REQUIRE_ERROR(SafetensorsFile::open(path), "tensor 'w': unknown dtype 'F7'");
  }
  SECTION("dtype and shape disagree with the byte size") {
    write_raw(path, R"({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 20]}})", 20);
    REQUIRE_ERROR(SafetensorsFile::open(path), "tensor 'w': F32 [2, 3] needs 24 bytes but data_offsets span 20");
  }
  SECTION("negative dimension") {
    write_raw(path, R"({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", 4);
    REQUIRE_ERROR(SafetensorsFile::open(path), "tensor 'w': negative dimension -1");
  }
  SECTION("shape whose byte size overflows") {
    write_raw(path, R"({"w": {"dtype": "F64", "shape": [4294967296, 4294967296], "data_offsets": [0, 8]}})", 8);
    REQUIRE_ERROR(SafetensorsFile::open(path), "tensor 'w': shape overflows 64 bits");
  }
  SECTION("offsets past the end (truncated data)") {
    write_raw(path, R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", 12);
    REQUIRE_ERROR(SafetensorsFile::open(path), "tensor 'w' data_offsets [0, 16] run past the end of the data section");
  }
  SECTION("end before begin") {
    write_raw(path, R"({"w": {"dtype": "U8", "shape": [0], "data_offsets": [8, 4]}})", 8);
    REQUIRE_ERROR(SafetensorsFile::open(path), "tensor 'w': data_offsets end 4 before begin 8");
  }
  SECTION("overlapping tensors") {
    write_raw(path,
              R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                  "b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}})",
              16);
    REQUIRE_ERROR(SafetensorsFile::open(path), "tensor 'b' overlaps tensor 'a'");
  }
  SECTION("overlap hidden behind an empty tensor") {
    write_raw(path,
              R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                  "e": {"dtype": "F32", "shape": [0], "data_offsets": [4, 4]},
                  "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}})",
              16);
    REQUIRE_ERROR(SafetensorsFile::open(path), "tensor 'b' overlaps tensor 'a'");
  }
  SECTION("offsets that are not integers") {
    write_raw(path, R"({"w": {"dtype": "U8", "shape": [1], "data_offsets": [0, "1"]}})", 1);
    REQUIRE_ERROR(SafetensorsFile::open(path), "data_offsets must be non-negative integers");
  }
  SECTION("metadata that is not string to string") {
    write_raw(path, R"({"__metadata__": {"n": 3}})", 0);
    REQUIRE_ERROR(SafetensorsFile::open(path), "__metadata__ value for 'n' is not a string");
  }
  SECTION("asking for a tensor the file lacks") {
    write_safetensors(path, {{"present", DType::U8, {1}, std::vector<std::byte>(1)}});
    REQUIRE_ERROR(SafetensorsFile::open(path)->entry("absent"), file + ": no tensor 'absent'");
  }
}

TEST_CASE("writer refuses inconsistent tensors and leaves no partial file", "[io][bad-input]") {
  TempDir dir;
  const auto path = dir / "out.safetensors";
  const auto data = bytes_of({1.f, 2.f});
  REQUIRE_ERROR(write_safetensors(path, {{"w", DType::F32, {3}, data}}),
                "tensor 'w': shape needs 12 bytes but 8 were given");
  REQUIRE_ERROR(write_safetensors(path, {{"w", DType::F32, {2}, data}, {"w", DType::F32, {2}, data}}),
                "duplicate or reserved name");
  CHECK_FALSE(std::filesystem::exists(path));
  CHECK(std::filesystem::is_empty(dir.path()));  // no temporary left behind
}

TEST_CASE("randomly damaged files either load or fail cleanly, never read out of bounds", "[io][bad-input][fuzz]") {
  TempDir dir;
  const auto good = dir / "good.safetensors";
  write_safetensors(
      good,
      {{"w", DType::F32, {2, 3}, bytes_of({1, 2, 3, 4, 5, 6})}, {"b", DType::BF16, {4}, std::vector<std::byte>(8)}},
      {{"format", "pt"}});
  const std::string original = read_text(good);
  std::mt19937 random(7);
  const auto path = dir / "mutant.safetensors";
  int loaded = 0, refused = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::string mutant = original;
    switch (trial % 3) {
      case 0:  // flip a few bytes anywhere, the length prefix included
        for (int k = 0; k < 1 + int(random() % 4); ++k) mutant[random() % mutant.size()] = char(random());
        break;
      case 1:  // truncate
        mutant.resize(random() % mutant.size());
        break;
      case 2:  // replace a digit inside the header
        for (std::size_t at = 8 + random() % (mutant.size() - 8); at < mutant.size(); ++at)
          if (std::isdigit(static_cast<unsigned char>(mutant[at]))) {
            mutant[at] = char('0' + random() % 10);
            break;
          }
        break;
    }
    write_text(path, mutant);
    try {
      const auto file = SafetensorsFile::open(path);
      for (const auto& entry : file->entries()) {
        const auto span = file->bytes(entry);  // every span must lie inside the mapping
        volatile std::byte sink{};
        for (std::byte value : span) sink = value;
        (void)sink;
      }
      ++loaded;
    } catch (const Error&) {
      ++refused;
    }
  }
  CHECK(refused > 1000);  // the mutations do damage files...
  CHECK(loaded > 0);      // ...and some (e.g. changed tensor bytes) leave them valid
}
