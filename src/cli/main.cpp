// hybridize: wires the subcommands together and turns every failure into one
// line on stderr and a non-zero exit.
#include <c10/util/Exception.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "core/error.h"
#include "core/format.h"
#include "core/log.h"

namespace {
int report(const std::string& message) {
  // Bounded, so a message quoting user input (a huge JSON value, say) stays one readable line.
  std::fprintf(stderr, "hybridize: error: %s\n", hybridize::bounded_excerpt(message, 2000).c_str());
  return 1;
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hybridize: turn a pretrained transformer into a faster attention + Mamba hybrid"};
  app.require_subcommand(1);
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "Log debug messages");
  app.parse_complete_callback([&] {
    if (verbose) hybridize::set_log_level(hybridize::LogLevel::Debug);
  });
  hybridize::cli::add_inspect_command(app);
  hybridize::cli::add_data_command(app);
  hybridize::cli::add_score_command(app);
  hybridize::cli::add_plan_command(app);
  hybridize::cli::add_distill_command(app);
  hybridize::cli::add_run_command(app);
  hybridize::cli::add_bench_command(app);
  hybridize::cli::add_eval_command(app);
  hybridize::cli::add_report_command(app);
  hybridize::cli::add_train_command(app);
  hybridize::cli::add_random_teacher_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // --help and --version print and succeed; every other parse error is bad input, reported as one line.
    if (error.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(error);
    return report(error.what());
  } catch (const hybridize::Error& error) {
    return report(error.what());
  } catch (const c10::Error& error) {
    // LibTorch messages carry a C++ backtrace after the first line; users need the first line.
    return report(error.what_without_backtrace());
  } catch (const std::exception& error) {
    return report(error.what());
  }
  return 0;
}
