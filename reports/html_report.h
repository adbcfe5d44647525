#pragma once
// Renders a report model as one self-contained HTML page: the sections
// Findings (reports/findings.h), Provenance, Layer importance, Plans, Distillation and Throughput, each chart
// beside a table of its numbers, with Chart.js, the page's script and its
// style inlined. Every string from the store is escaped (reports/html_escape.h).
#include <string>

#include "reports/report_model.h"

namespace hybridize::reports {

struct ReportOptions {
  std::string title;         // empty: "hybridize report: <run>"
  std::string generated_at;  // shown in the footer (the caller's clock, so tests can fix it)
  std::string generator;     // the hybridize version that wrote the page
};

std::string render_html_report(const ReportModel& model, const ReportOptions& options);

}  // namespace hybridize::reports
