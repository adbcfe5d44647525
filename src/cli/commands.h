#pragma once
// Each subcommand lives in its own file and registers itself on the app.
#include <CLI/CLI.hpp>

namespace hybridize::cli {

void add_inspect_command(CLI::App& app);
void add_data_command(CLI::App& app);
void add_score_command(CLI::App& app);
void add_plan_command(CLI::App& app);
void add_distill_command(CLI::App& app);  // distill and export
void add_run_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_eval_command(CLI::App& app);
// `data tokenize`, registered by add_data_command under `data`.
void add_data_tokenize_command(CLI::App& data_command);
void add_report_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_random_teacher_command(CLI::App& app);

}  // namespace hybridize::cli
