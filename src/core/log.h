#pragma once
// Plain leveled logging to stderr. Long work reports progress through these
// lines when stderr is not a terminal.
#include <sstream>
#include <string>

namespace hybridize {

enum class LogLevel { Debug = 0, Info = 1, Warning = 2, Error = 3 };

void set_log_level(LogLevel level);
LogLevel log_level();
void log_line(LogLevel level, const std::string& message);

template <class... Parts>
void log(LogLevel level, const Parts&... parts) {
  if (level < log_level()) return;
  std::ostringstream message;
  (message << ... << parts);
  log_line(level, message.str());
}

template <class... Parts>
void log_info(const Parts&... parts) {
  log(LogLevel::Info, parts...);
}
template <class... Parts>
void log_warning(const Parts&... parts) {
  log(LogLevel::Warning, parts...);
}
template <class... Parts>
void log_debug(const Parts&... parts) {
  log(LogLevel::Debug, parts...);
}

}  // namespace hybridize
