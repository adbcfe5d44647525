// The progress reporter's text, and when it writes on a terminal and in logs.
#include <algorithm>
#include <cstdio>
#include <string>

#include "catch.h"
#include "core/progress.h"

using namespace hybridize;

namespace {
std::string contents(std::FILE* file) {
  std::fflush(file);
  std::rewind(file);
  std::string text;
  for (int c; (c = std::fgetc(file)) != EOF;) text += static_cast<char>(c);
  return text;
}
}  // namespace

TEST_CASE("durations print as seconds, minutes or hours", "[core][progress]") {
  CHECK(format_duration(9.4) == "9s");
  CHECK(format_duration(75) == "1m15s");
  CHECK(format_duration(4000) == "1h06m");
  CHECK(format_duration(-1) == "?");
}

TEST_CASE("a progress line has the counts, the details and an ETA from the rate so far", "[core][progress]") {
  const ProgressReporter from_start("train", 0, 100, false, 1, stderr);
  CHECK(from_start.line(25, "loss 1.5", 10.0) == "train 25/100 (25%) loss 1.5 | ETA 30s");
  CHECK(from_start.line(100, "", 50.0) == "train 100/100 (100%) | done in 50s");
  CHECK(from_start.line(0, "", 0.0) == "train 0/100 (0%) | ETA ?");
  // A resumed run's rate counts only the work done since it resumed.
  const ProgressReporter resumed("train", 60, 100, false, 1, stderr);
  CHECK(resumed.line(80, "", 20.0) == "train 80/100 (80%) | ETA 20s");
}

TEST_CASE("off a terminal a line is logged every log_every updates and at the end", "[core][progress]") {
  std::FILE* file = std::tmpfile();
  REQUIRE(file != nullptr);
  ProgressReporter progress("steps", 0, 7, false, 3, file);
  for (int64_t done = 1; done <= 7; ++done) progress.update(done, "x");
  progress.finish();
  const auto text = contents(file);
  std::fclose(file);
  CHECK(text.find('\r') == std::string::npos);
  CHECK(text.find("steps 3/7") != std::string::npos);
  CHECK(text.find("steps 6/7") != std::string::npos);
  CHECK(text.find("steps 7/7") != std::string::npos);
  CHECK(text.find("steps 1/7") == std::string::npos);
  CHECK(std::count(text.begin(), text.end(), '\n') == 3);
}

TEST_CASE("on a terminal one line is redrawn in place and ended by finish()", "[core][progress]") {
  std::FILE* file = std::tmpfile();
  REQUIRE(file != nullptr);
  ProgressReporter progress("steps", 0, 2, true, 1, file);
  progress.update(1, "");
  progress.update(2, "");  // the last update is always drawn
  progress.finish();
  const auto text = contents(file);
  std::fclose(file);
  CHECK(text.rfind('\r', 0) == 0);
  CHECK(text.find("steps 2/2") != std::string::npos);
  CHECK(std::count(text.begin(), text.end(), '\n') == 1);
  CHECK(text.back() == '\n');
}
