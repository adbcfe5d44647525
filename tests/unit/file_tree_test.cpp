// Directory copy and removal (core/file_tree), which avoid std::filesystem's walkers.
#include "core/file_tree.h"
#include "catch.h"
#include "temp_dir.h"

using namespace hybridize;
using hybridize::testing::read_text;
using hybridize::testing::TempDir;
using hybridize::testing::write_text;

TEST_CASE("copy_tree copies nested files byte for byte; remove_tree removes everything", "[core]") {
  TempDir dir;
  make_directories(dir / "src/a/b");
  write_text(dir / "src/top.txt", "top");
  write_text(dir / "src/a/b/deep.bin", std::string("\0\1\2binary", 9));
  copy_tree(dir / "src", dir / "copy");
  CHECK(read_text(dir / "copy/top.txt") == "top");
  CHECK(read_text(dir / "copy/a/b/deep.bin") == std::string("\0\1\2binary", 9));
  remove_tree(dir / "src");
  CHECK_FALSE(std::filesystem::exists(dir / "src"));
  CHECK(std::filesystem::exists(dir / "copy/a/b/deep.bin"));
  remove_tree(dir / "never-existed");  // not an error
  REQUIRE_ERROR(copy_tree(dir / "missing", dir / "x"), "missing: not a directory");
  REQUIRE_ERROR(copy_tree(dir / "copy", dir / "copy"), "cannot create");
  write_text(dir / "file", "x");
  REQUIRE_ERROR(make_directories(dir / "file/sub"), "cannot create directory");
}
