#pragma once
// The synthetic task's settings as command-line flags, the same for every
// subcommand that generates problems (train, score, distill).
#include <CLI/CLI.hpp>

#include "data/synthetic_task.h"

namespace hybridize::cli {

void add_task_options(CLI::App* command, data::synthetic::TaskConfig& task);

}  // namespace hybridize::cli
