#include "io/json_file.h"

#include <fstream>

#include "core/error.h"

namespace hybridize::io {

nlohmann::json read_json_file(const std::filesystem::path& path) {
  if (!std::filesystem::is_regular_file(path)) fail(path.string(), ": no such file");
  std::ifstream in(path);
  if (!in) fail(path.string(), ": cannot open");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& error) {
    fail(path.string(), ": not valid JSON (", error.what(), ")");
  }
}

}  // namespace hybridize::io
