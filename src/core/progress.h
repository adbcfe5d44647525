#pragma once
// Progress of long work: on a terminal, one stderr line rewritten in place with
// the rate and an ETA; otherwise a plain log line every ten seconds. Work that
// ends within two seconds prints nothing.
#include <chrono>
#include <cstdint>
#include <string>

namespace hybridize {

class Progress {
 public:
  Progress(std::string label, uint64_t total);
  ~Progress();  // ends the terminal line
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Cheap enough to call for every item.
  void update(uint64_t done);

 private:
  using Clock = std::chrono::steady_clock;
  std::string label_;
  uint64_t total_;
  Clock::time_point start_, next_report_;
  bool terminal_;
  bool drawn_ = false;
};

}  // namespace hybridize
