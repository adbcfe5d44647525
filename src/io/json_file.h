#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>

namespace hybridize::io {

// Parses a JSON file; throws Error naming the file when it is missing or malformed.
nlohmann::json read_json_file(const std::filesystem::path& path);

}  // namespace hybridize::io
