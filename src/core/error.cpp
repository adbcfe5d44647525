#include "core/error.h"

namespace hybridize {

namespace {
// Messages must stay on one line: a newline inside would split the error a
// user or a log parser reads.
std::string one_line(std::string text) {
  for (char& c : text)
    if (c == '\n' || c == '\r') c = ' ';
  return text;
}
}  // namespace

Error::Error(const std::string& message) : std::runtime_error(one_line(message)) {}

}  // namespace hybridize
