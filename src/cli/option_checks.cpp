#include "cli/option_checks.h"

#include <charconv>
#include <cmath>
#include <string>

namespace hybridize::cli {

// Each check returns "" for text that is not a number at all: CLI11's own
// conversion then names the option and the text.

CLI::Validator at_least(int64_t minimum) {
  return CLI::Validator(
      [minimum](std::string& text) -> std::string {
        int64_t value = 0;
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (error == std::errc::result_out_of_range) return "'" + text + "' is out of range";
        if (error != std::errc() || end != text.data() + text.size() || value >= minimum) return "";
        return "must be at least " + std::to_string(minimum) + ", got " + text;
      },
      ">=" + std::to_string(minimum));
}

namespace {
CLI::Validator real_check(bool allow_zero) {
  return CLI::Validator(
      [allow_zero](std::string& text) -> std::string {
        char* end = nullptr;
        const double value = std::strtod(text.c_str(), &end);
        if (text.empty() || end != text.c_str() + text.size()) return "";
        if (std::isfinite(value) && (value > 0 || (allow_zero && value == 0))) return "";
        return std::string(allow_zero ? "must be a finite number >= 0" : "must be a finite number > 0") + ", got " +
               text;
      },
      allow_zero ? "NONNEGATIVE" : "POSITIVE");
}
}  // namespace

CLI::Validator positive_real() { return real_check(false); }

CLI::Validator fraction() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        char* end = nullptr;
        const double value = std::strtod(text.c_str(), &end);
        if (text.empty() || end != text.c_str() + text.size() || (value > 0 && value <= 1)) return "";
        return "must be in (0, 1], got " + text;
      },
      "(0, 1]");
}
CLI::Validator non_negative_real() { return real_check(true); }

}  // namespace hybridize::cli
