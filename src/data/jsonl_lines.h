#pragma once
// Walking the lines of a JSON Lines text: every reader of .jsonl files skips
// blank lines and names a bad line by its 1-based number.
#include <cstddef>
#include <string_view>

namespace hybridize::data {

inline bool is_blank_line(std::string_view line) { return line.find_first_not_of(" \t\r") == std::string_view::npos; }

// Calls visit(line_number, line) for each line that is not blank; returns the number of lines.
template <class Visit>
std::size_t for_each_jsonl_line(std::string_view text, Visit&& visit) {
  std::size_t line_number = 0;
  for (std::size_t begin = 0; begin < text.size();) {
    std::size_t end = text.find('\n', begin);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(begin, end - begin);
    ++line_number;
    begin = end + 1;
    if (!is_blank_line(line)) visit(line_number, line);
  }
  return line_number;
}

}  // namespace hybridize::data
