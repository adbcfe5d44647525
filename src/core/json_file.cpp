#include "core/json_file.h"

#include "core/error.h"
#include "core/format.h"
#include "core/mapped_file.h"

namespace hybridize {

nlohmann::json parse_json(std::string_view text, const std::string& where) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& error) {
    // nlohmann quotes the token it was reading, which may be the rest of a huge line.
    fail(where, where.empty() ? "" : ": ", "not valid JSON (", bounded_excerpt(error.what()), ")");
  }
}

nlohmann::json read_json_file(const std::filesystem::path& path) {
  return parse_json(read_whole_file(path), path.string());
}

}  // namespace hybridize
