#pragma once
// JSON from files and text, with errors that name the source and quote at
// most a bounded excerpt of what failed to parse.
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace hybridize {

// Parses `text`; throws Error "<where>: not valid JSON (...)" ("not valid
// JSON (...)" when `where` is empty).
nlohmann::json parse_json(std::string_view text, const std::string& where);
// Parses a JSON file; throws Error naming the file when it is missing, not a
// regular file or malformed.
nlohmann::json read_json_file(const std::filesystem::path& path);

}  // namespace hybridize
