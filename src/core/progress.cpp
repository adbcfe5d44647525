#include "core/progress.h"

#include <unistd.h>

#include <cmath>

#include "core/log.h"

namespace hybridize {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto whole = static_cast<int64_t>(std::llround(seconds));
  char text[32];
  if (whole < 60)
    std::snprintf(text, sizeof text, "%llds", static_cast<long long>(whole));
  else if (whole < 3600)
    std::snprintf(text, sizeof text, "%lldm%02llds", static_cast<long long>(whole / 60),
                  static_cast<long long>(whole % 60));
  else
    std::snprintf(text, sizeof text, "%lldh%02lldm", static_cast<long long>(whole / 3600),
                  static_cast<long long>(whole / 60 % 60));
  return text;
}

ProgressReporter::ProgressReporter(std::string label, int64_t start, int64_t total, bool terminal, int64_t log_every,
                                   std::FILE* out)
    : label_(std::move(label)),
      start_(start),
      total_(total),
      terminal_(terminal),
      log_every_(log_every > 0 ? log_every : 1),
      out_(out),
      began_(std::chrono::steady_clock::now()),
      last_draw_(began_) {}

bool ProgressReporter::stderr_is_terminal() { return ::isatty(STDERR_FILENO) == 1; }

std::string ProgressReporter::line(int64_t done, const std::string& details, double elapsed_seconds) const {
  const int64_t advanced = done - start_;
  const double remaining =
      advanced > 0 ? elapsed_seconds / static_cast<double>(advanced) * static_cast<double>(total_ - done) : NAN;
  const int percent = total_ > 0 ? static_cast<int>(100 * done / total_) : 100;
  std::string text =
      label_ + " " + std::to_string(done) + "/" + std::to_string(total_) + " (" + std::to_string(percent) + "%)";
  if (!details.empty()) text += " " + details;
  text += done >= total_ ? " | done in " + format_duration(elapsed_seconds) : " | ETA " + format_duration(remaining);
  return text;
}

void ProgressReporter::update(int64_t done, const std::string& details) {
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - began_).count();
  if (terminal_) {
    // Redrawing more than ~10 times a second only costs time.
    if (drawn_ && done < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
    std::fprintf(out_, "\r\033[K%s", line(done, details, elapsed).c_str());
    std::fflush(out_);
    drawn_ = true;
    last_draw_ = now;
  } else if ((done - start_) % log_every_ == 0 || done >= total_) {
    if (out_ == stderr)
      log_info(line(done, details, elapsed));
    else
      std::fprintf(out_, "%s\n", line(done, details, elapsed).c_str());
  }
}

void ProgressReporter::finish() {
  if (terminal_ && drawn_) std::fprintf(out_, "\n");
  drawn_ = false;
}

}  // namespace hybridize
