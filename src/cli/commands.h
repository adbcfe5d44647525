#pragma once
// Each subcommand lives in its own file and registers itself on the app.
#include <CLI/CLI.hpp>

namespace hybridize::cli {

void add_inspect_command(CLI::App& app);
void add_data_command(CLI::App& app);
void add_train_command(CLI::App& app);

}  // namespace hybridize::cli
