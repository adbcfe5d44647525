#pragma once
// Lists on the command line: layers "0,3,7-9" -> {0, 3, 7, 8, 9}, names "a,b".
#include <cstdint>
#include <string>
#include <vector>

namespace hybridize::cli {

// `flag` names the option in errors ("--layers: '7-x' is not a layer or range").
std::vector<int64_t> parse_layer_list(const std::string& text, const std::string& flag);
// Comma-separated names: "paper,random" -> {"paper", "random"}.
std::vector<std::string> parse_names(const std::string& text);

}  // namespace hybridize::cli
