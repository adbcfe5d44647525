#pragma once
// Which results a report lacks, each with the exact command that produces it
// (scoring, planning, distillation, benchmarks), so a reviewer can fill the gap.
#include <string>
#include <string_view>
#include <vector>

#include "reports/report_model.h"

namespace hybridize::reports {

// Quotes `word` for a POSIX shell when it holds anything beyond [A-Za-z0-9_./:=,+@%-].
std::string shell_quote(std::string_view word);

// Reads model.run, model.probes, model.plans and model.benchmarks.
std::vector<MissingResult> find_missing_results(const ReportModel& model);

}  // namespace hybridize::reports
