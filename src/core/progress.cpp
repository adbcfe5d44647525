#include "core/progress.h"

#include <unistd.h>

#include <cstdio>

#include "core/log.h"

namespace hybridize {

namespace {
constexpr auto kQuiet = std::chrono::seconds(2);
constexpr auto kTerminalEvery = std::chrono::milliseconds(500);
constexpr auto kLogEvery = std::chrono::seconds(10);
}  // namespace

Progress::Progress(std::string label, uint64_t total)
    : label_(std::move(label)), total_(total), start_(Clock::now()), next_report_(start_ + kQuiet),
      terminal_(::isatty(STDERR_FILENO) == 1) {}

Progress::~Progress() {
  if (drawn_) std::fputc('\n', stderr);
}

void Progress::update(uint64_t done) {
  const auto now = Clock::now();
  if (now < next_report_) return;
  next_report_ = now + (terminal_ ? kTerminalEvery : kLogEvery);
  const double seconds = std::chrono::duration<double>(now - start_).count();
  const double rate = done / seconds;
  const double eta = rate > 0 && total_ > done ? double(total_ - done) / rate : 0;
  char line[256];
  std::snprintf(line, sizeof line, "%s: %llu/%llu (%.0f%%), %.0f/s, ETA %.0fs", label_.c_str(),
                (unsigned long long)done, (unsigned long long)total_, total_ ? 100.0 * done / total_ : 100.0, rate, eta);
  if (terminal_) {
    std::fprintf(stderr, "\r%s\033[K", line);
    drawn_ = true;
  } else {
    log_info(line);
  }
}

}  // namespace hybridize
