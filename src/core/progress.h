#pragma once
// Progress of long work with an ETA: on a terminal one line redrawn in place
// ('\r'), otherwise a plain log line every `log_every` updates and at the end,
// so logs of batch jobs stay readable.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace hybridize {

// 75 -> "1m15s", 4000 -> "1h06m", 9.4 -> "9s".
std::string format_duration(double seconds);

class ProgressReporter {
 public:
  // Work runs from `start` (a resumed run's first unit) to `total` units.
  ProgressReporter(std::string label, int64_t start, int64_t total, bool terminal, int64_t log_every = 1,
                   std::FILE* out = stderr);
  static bool stderr_is_terminal();

  // `done` units are finished; `details` ("loss 1.23") goes after the counts.
  void update(int64_t done, const std::string& details);
  // Ends the redrawn line on a terminal.
  void finish();

  // "train 120/1000 (12%) loss 1.23 | ETA 3m12s" for `done` units after `elapsed_seconds`.
  std::string line(int64_t done, const std::string& details, double elapsed_seconds) const;

 private:
  std::string label_;
  int64_t start_, total_;
  bool terminal_;
  int64_t log_every_;
  std::FILE* out_;
  std::chrono::steady_clock::time_point began_, last_draw_;
  bool drawn_ = false;
};

}  // namespace hybridize
