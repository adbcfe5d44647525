// `hybridize report --db FILE --out report.html`: one self-contained HTML page
// of a run for reviewers, read from the results store alone.
#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/format.h"
#include "core/version.h"
#include "reports/html_report.h"
#include "reports/report_model.h"
#include "store/results_store.h"

namespace hybridize::cli {

namespace {

struct ReportCommandOptions {
  std::string database;
  std::string out;
  std::string run;
  std::string title;
};

store::RunRecord choose_run(store::ResultsStore& results, const std::string& wanted) {
  const auto runs = results.runs();
  std::string names;
  for (const auto& run : runs) names += (names.empty() ? "" : ", ") + run.name;
  const std::string where = results.path().string();
  if (runs.empty()) fail(where, ": holds no run yet; score a model first (hybridize score loo --db ", where, " ...)");
  if (wanted.empty()) {
    if (runs.size() > 1) fail(where, ": holds ", runs.size(), " runs (", names, "); pass --run NAME");
    return runs.front();
  }
  for (const auto& run : runs)
    if (run.name == wanted) return run;
  fail(where, ": no run '", wanted, "'; its runs: ", names);
}

void run_report(const ReportCommandOptions& options) {
  // The store creates a missing database; a report must not, so check first.
  std::error_code error;
  if (!std::filesystem::is_regular_file(options.database, error)) fail(options.database, ": no such results database");
  store::ResultsStore results(options.database, store::Access::ReadOnly);
  const auto run = choose_run(results, options.run);
  const auto model = reports::read_report(results, run);
  const std::string html =
      reports::render_html_report(model, {options.title, utc_timestamp(), std::string(code_version())});
  write_file_atomically(options.out, html);
  std::printf("%s\n", options.out.c_str());
}

}  // namespace

void add_report_command(CLI::App& app) {
  auto options = std::make_shared<ReportCommandOptions>();
  auto* command = app.add_subcommand("report",
                                     "Write a run's results (scores, plans, distillation, throughput) as one "
                                     "self-contained HTML page for reviewers");
  command->add_option("--db", options->database, "Results database (SQLite) to read")->required();
  command->add_option("--out", options->out, "HTML file to write (replaced atomically)")->required();
  command->add_option("--run", options->run, "Run to report (default: the database's only run)");
  command->add_option("--title", options->title, "Page title (default: hybridize report: RUN)");
  command->callback([options] { run_report(*options); });
}

}  // namespace hybridize::cli
