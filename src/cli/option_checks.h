#pragma once
// Bounds on numeric options, checked while the command line is parsed, so a
// bad number fails with one line naming the option before any work starts
// ("--d-state: must be at least 1, got 0").
#include <CLI/CLI.hpp>
#include <cstdint>

namespace hybridize::cli {

CLI::Validator at_least(int64_t minimum);  // an integer >= minimum
CLI::Validator positive_real();            // a finite number > 0
CLI::Validator non_negative_real();        // a finite number >= 0
CLI::Validator fraction();                 // a number in (0, 1]

}  // namespace hybridize::cli
