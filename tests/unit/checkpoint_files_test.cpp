// Checkpoint directories: a single file, or shards with an index.
#include "io/checkpoint_files.h"
#include "catch.h"
#include "temp_dir.h"

using namespace hybridize::io;
using hybridize::testing::TempDir;
using hybridize::testing::write_text;

namespace {
void write_u8(const std::filesystem::path& path, const std::vector<std::string>& names) {
  std::vector<TensorToWrite> tensors;
  static const std::vector<std::byte> one(1);
  for (const auto& name : names) tensors.push_back({name, DType::U8, {1}, one});
  write_safetensors(path, tensors);
}
}  // namespace

TEST_CASE("a sharded checkpoint finds each tensor in the shard its index names", "[io]") {
  TempDir dir;
  write_u8(dir / "model-00001-of-00002.safetensors", {"a", "b"});
  write_u8(dir / "model-00002-of-00002.safetensors", {"c"});
  write_text(dir / "model.safetensors.index.json", R"({"metadata": {"total_size": 3}, "weight_map": {
      "a": "model-00001-of-00002.safetensors", "b": "model-00001-of-00002.safetensors",
      "c": "model-00002-of-00002.safetensors"}})");
  const CheckpointFiles checkpoint(dir.path());
  CHECK(checkpoint.shard_count() == 2);
  CHECK(checkpoint.names() == std::vector<std::string>{"a", "b", "c"});
  CHECK(checkpoint.locate("c").file->path().filename() == "model-00002-of-00002.safetensors");
  CHECK(checkpoint.locate("a").entry->name == "a");
  REQUIRE_ERROR(checkpoint.locate("d"), "checkpoint has no tensor 'd'");
}

TEST_CASE("a single-file checkpoint lists its tensors", "[io]") {
  TempDir dir;
  write_u8(dir / "model.safetensors", {"x", "y"});
  const CheckpointFiles checkpoint(dir.path());
  CHECK(checkpoint.shard_count() == 1);
  CHECK(checkpoint.contains("y"));
}

TEST_CASE("broken checkpoint directories are refused naming the file or tensor", "[io][bad-input]") {
  TempDir dir;
  const auto index = dir / "model.safetensors.index.json";
  SECTION("no such directory") { REQUIRE_ERROR(CheckpointFiles(dir / "nope"), "nope: no such checkpoint directory"); }
  SECTION("a file, not a directory") {
    write_text(dir / "file", "x");
    REQUIRE_ERROR(CheckpointFiles(dir / "file"), "file: not a directory");
  }
  SECTION("no weights at all") {
    REQUIRE_ERROR(CheckpointFiles(dir.path()), "no model.safetensors or model.safetensors.index.json");
  }
  SECTION("index is not JSON") {
    write_text(index, "{weight_map");
    REQUIRE_ERROR(CheckpointFiles(dir.path()), "model.safetensors.index.json: not valid JSON");
  }
  SECTION("index without weight_map") {
    write_text(index, "{}");
    REQUIRE_ERROR(CheckpointFiles(dir.path()), "missing object 'weight_map'");
  }
  SECTION("missing shard") {
    write_text(index, R"({"weight_map": {"a": "model-00001-of-00001.safetensors"}})");
    REQUIRE_ERROR(CheckpointFiles(dir.path()), "shard 'model-00001-of-00001.safetensors' (holding 'a') does not exist");
  }
  SECTION("tensor listed but not stored") {
    write_u8(dir / "s.safetensors", {"a"});
    write_text(index, R"({"weight_map": {"a": "s.safetensors", "b": "s.safetensors"}})");
    REQUIRE_ERROR(CheckpointFiles(dir.path()), "tensor 'b' is listed in shard 's.safetensors' but not stored there");
  }
  SECTION("shard outside the directory") {
    write_text(index, R"({"weight_map": {"a": "../elsewhere.safetensors"}})");
    REQUIRE_ERROR(CheckpointFiles(dir.path()), "must be a plain file name in the same directory");
  }
  SECTION("damaged shard") {
    write_text(dir / "s.safetensors", "1234");
    write_text(index, R"({"weight_map": {"a": "s.safetensors"}})");
    REQUIRE_ERROR(CheckpointFiles(dir.path()), "s.safetensors: truncated safetensors file");
  }
}
