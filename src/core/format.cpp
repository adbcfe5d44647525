#include "core/format.h"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace hybridize {

namespace {
std::string scaled(double value, double base, const char* const* units, int unit_count) {
  int unit = 0;
  while (value >= base && unit + 1 < unit_count) {
    value /= base;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, unit == 0 ? "%.0f%s" : "%.2f%s", value, units[unit]);
  return text;
}
}  // namespace

std::string format_count(int64_t count) {
  static const char* const units[] = {"", "K", "M", "B", "T"};
  return scaled(static_cast<double>(count), 1000.0, units, 5);
}

std::string format_bytes(uint64_t bytes) {
  static const char* const units[] = {" B", " KiB", " MiB", " GiB", " TiB"};
  return scaled(static_cast<double>(bytes), 1024.0, units, 5);
}

std::string utc_timestamp() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm parts{};
  gmtime_r(&now, &parts);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

std::string replace_all(std::string_view text, std::string_view pattern, std::string_view content) {
  std::string out;
  std::size_t at = 0;
  for (std::size_t found; (found = text.find(pattern, at)) != std::string_view::npos; at = found + pattern.size())
    out.append(text.substr(at, found - at)).append(content);
  return out.append(text.substr(at));
}

std::string bounded_excerpt(std::string_view text, std::size_t limit) {
  if (text.size() <= limit) return std::string(text);
  std::size_t cut = limit;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 character
  return std::string(text.substr(0, cut)) + "... (" + std::to_string(text.size() - cut) + " bytes more)";
}

}  // namespace hybridize
