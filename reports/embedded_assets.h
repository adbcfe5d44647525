#pragma once
// The page assets compiled into the binary (cmake/EmbedReportAssets.cmake),
// inlined into every report so it opens with no network and no files beside it.
#include <string_view>

namespace hybridize::reports {

std::string_view chart_library_js();  // Chart.js, from Debian's libjs-chart.js
std::string_view report_script();     // assets/report.js: draws the charts
std::string_view report_style();      // assets/report.css: screen and print styles

}  // namespace hybridize::reports
