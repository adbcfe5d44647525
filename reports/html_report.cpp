#include "reports/html_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "core/format.h"
#include "reports/chart_data.h"
#include "reports/embedded_assets.h"
#include "reports/findings.h"
#include "reports/html_escape.h"

namespace hybridize::reports {

namespace {

// Records page errors before any other script runs, so a headless browser can read them from the DOM.
constexpr const char* kErrorRecorder =
    "window.addEventListener('error',function(e){var r=document.documentElement;"
    "r.setAttribute('data-errors',(r.getAttribute('data-errors')||'')+e.message+'\\n');});";

constexpr std::size_t kFoldRows = 25;  // longer tables fold into <details> (opened for print)

// Four significant digits; large values (tokens/s, counts) in full rather than with an exponent.
std::string number(double value) {
  char text[48];
  const double magnitude = std::fabs(value);
  std::snprintf(text, sizeof text, magnitude >= 1e4 && magnitude < 1e15 ? "%.0f" : "%.4g", value);
  return text;
}

std::string number(const std::optional<double>& value) { return value ? number(*value) : ""; }

std::string with_ci(double value, const std::optional<double>& low, const std::optional<double>& high) {
  if (!low || !high) return number(value);
  return number(value) + " [" + number(*low) + ", " + number(*high) + "]";
}

std::string with_ci(const store::MetricSummary& summary) {
  return with_ci(summary.value, summary.ci_low, summary.ci_high);
}

std::string speedup(const std::optional<double>& ratio) {
  if (!ratio) return "";
  char text[32];
  std::snprintf(text, sizeof text, "%.2f×", *ratio);
  return text;
}

std::string bytes(const std::optional<int64_t>& count) {
  return count && *count > 0 ? format_bytes(uint64_t(*count)) : std::string();
}

std::string join(const std::vector<int64_t>& numbers) {
  std::string text;
  for (const int64_t n : numbers) text += (text.empty() ? "" : ", ") + std::to_string(n);
  return text;
}

// A table cell with the value, and its interval below it in small type (keeps the columns narrow).
std::string value_cell(double value, const std::optional<double>& low, const std::optional<double>& high) {
  std::string cell = "<td class=\"num\">" + escape_html(number(value));
  if (low && high)
    cell += "<br><small class=\"ci\">[" + escape_html(number(*low)) + ", " + escape_html(number(*high)) + "]</small>";
  return cell + "</td>";
}

std::string th(const std::string& text, bool numeric = false) {
  return std::string(numeric ? "<th scope=\"col\" class=\"num\">" : "<th scope=\"col\">") + escape_html(text) + "</th>";
}
std::string td(const std::string& text, bool numeric = false) {
  return std::string(numeric ? "<td class=\"num\">" : "<td>") + escape_html(text) + "</td>";
}
std::string code(const std::string& text) { return "<code>" + escape_html(text) + "</code>"; }

class Page {
 public:
  void add(const std::string& html) { html_ += html; }
  std::string& html() { return html_; }
  const nlohmann::json& charts() const { return charts_; }

  // A chart beside the table of its numbers.
  void chart_with_table(const Chart& chart) {
    charts_[chart.id] = chart.to_json();
    const std::string alt = chart.title + ": " + chart.y_label + " against " + chart.x_label + ", " +
                            std::to_string(chart.point_count()) + " points; the table beside it lists them.";
    add("<div class=\"pair\"><figure><div class=\"canvas-box\"><canvas data-chart=\"" + escape_html(chart.id) +
        "\" role=\"img\" aria-label=\"" + escape_html(alt) + "\"></canvas></div><figcaption>" +
        escape_html(chart.title) + ". Vertical axis: " + escape_html(chart.y_label) +
        "; horizontal axis: " + escape_html(chart.x_label) + ".</figcaption></figure><div class=\"table-box\">" +
        data_table(chart) + "</div></div>\n");
  }

 private:
  static std::string data_table(const Chart& chart) {
    const std::string caption = "<caption>Numbers behind “" + escape_html(chart.title) + "”</caption>";
    std::string rows;
    std::size_t count = 0;
    std::string head;
    const bool labelled = std::any_of(chart.series.begin(), chart.series.end(), [](const ChartSeries& series) {
      return std::any_of(series.points.begin(), series.points.end(),
                         [](const ChartPoint& p) { return !p.label.empty(); });
    });
    if (labelled) {  // one row per point
      head = "<tr>" + th("series") + th("point") + th(chart.x_label, true) + th(chart.y_label, true) + "</tr>";
      for (const auto& series : chart.series)
        for (const auto& point : series.points) {
          rows += "<tr>" + td(series.label) + td(point.label) + td(number(point.x), true) +
                  value_cell(point.y, point.low, point.high) + "</tr>";
          ++count;
        }
    } else {  // one row per x value, one column per series
      head = "<tr>" + th(chart.x_label);
      for (const auto& series : chart.series) head += th(series.label, true);
      head += "</tr>";
      std::set<double> xs;
      for (const auto& series : chart.series)
        for (const auto& point : series.points) xs.insert(point.x);
      for (const double x : xs) {
        const bool categorical = chart.kind == Chart::Kind::Bar && x >= 0 && std::size_t(x) < chart.categories.size();
        rows += "<tr><th scope=\"row\">" + escape_html(categorical ? chart.categories[std::size_t(x)] : number(x)) +
                "</th>";
        for (const auto& series : chart.series) {
          auto found =
              std::find_if(series.points.begin(), series.points.end(), [&](const ChartPoint& p) { return p.x == x; });
          rows += found == series.points.end() ? td("", true) : value_cell(found->y, found->low, found->high);
        }
        rows += "</tr>";
        ++count;
      }
    }
    const std::string table = "<table>" + caption + "<thead>" + head + "</thead><tbody>" + rows + "</tbody></table>";
    if (count <= kFoldRows) return table;
    return "<details><summary>Table of the " + std::to_string(count) + " rows behind the chart</summary>" + table +
           "</details>";
  }

  std::string html_;
  nlohmann::json charts_ = nlohmann::json::object();
};

void missing_notes(Page& page, const ReportModel& model, const std::string& section) {
  std::string items;
  for (const auto& missing : model.missing)
    if (missing.section == section)
      items += "<li>" + escape_html(missing.what) + ": " + code(missing.command) + "</li>";
  if (!items.empty())
    page.add("<div class=\"missing\" role=\"note\"><strong>Not in the store yet</strong><ul>" + items +
             "</ul></div>\n");
}

std::string first_and_last(std::string first, std::string last) {
  if (first.empty()) return "";
  return first == last ? first : first + " to " + last;
}

std::string comparison_outcome(const Comparison& comparison) {
  if (comparison.second_better > 0) return "second better";
  if (comparison.second_better < 0) return "first better";
  return "within noise";
}

void findings(Page& page, const ReportModel& model) {
  page.add(
      "<section id=\"findings\" aria-labelledby=\"findings-h\"><h2 id=\"findings-h\">1. Findings</h2>\n"
      "<p>The Apriel-H1 paper's three findings, measured on this run's distilled stages. Stages evaluated on the "
      "same held-out samples are compared sample by sample: the mean difference with a 95% bootstrap interval; "
      "<em>within noise</em> means that interval includes zero (for stages stored without per-sample values: "
      "that their own intervals overlap). No correction is made for comparing many pairs.</p>\n");
  const auto measured = measure_findings(model);
  for (std::size_t i = 0; i < measured.size(); ++i) {
    const auto& finding = measured[i];
    const std::string letter(1, char('a' + i));
    const std::string verdict = verdict_text(finding.verdict);
    std::string verdict_class = verdict;
    std::replace(verdict_class.begin(), verdict_class.end(), ' ', '-');
    page.add("<article class=\"finding\" id=\"finding-" + escape_html(finding.id) + "\" data-verdict=\"" +
             escape_html(verdict) + "\"><h3>(" + letter + ") " + escape_html(finding.claim) +
             ": <span class=\"verdict " + escape_html(verdict_class) + "\">" + escape_html(verdict) +
             "</span></h3><p>" + escape_html(finding.statement) + "</p>");
    if (!finding.command.empty())
      page.add("<p>To measure it:</p><pre><code>" + escape_html(finding.command) + "</code></pre>");
    if (!finding.comparisons.empty()) {
      page.add("<div class=\"table-box\"><table><caption>Comparisons behind (" + letter + "): evaluation " +
               escape_html(finding.metric) + ", " + (higher_is_better(finding.metric) ? "higher" : "lower") +
               " is better</caption><thead><tr>" + th("first stage") + th("second stage") + th("first", true) +
               th("second", true) + th("second − first [95% CI]", true) + th("outcome") + "</tr></thead><tbody>");
      for (const auto& comparison : finding.comparisons)
        page.add("<tr>" + td(comparison.first) + td(comparison.second) + td(number(comparison.first_mean), true) +
                 td(number(comparison.second_mean), true) +
                 td(with_ci(comparison.difference, comparison.low, comparison.high) +
                        (comparison.paired ? "" : " (unpaired)"),
                    true) +
                 td(comparison_outcome(comparison)) + "</tr>");
      page.add("</tbody></table></div>\n");
    }
    if (finding.id == "mamba-count")
      for (const char* metric : {"kl", "accuracy"})
        if (auto chart = stage_quality_chart(model, metric)) page.chart_with_table(*chart);
    page.add("</article>\n");
  }
  page.add("</section>\n");
}

void provenance(Page& page, const ReportModel& model) {
  const auto& run = model.run;
  page.add("<section id=\"provenance\" aria-labelledby=\"provenance-h\"><h2 id=\"provenance-h\">2. Provenance</h2>\n");
  std::string first, last;
  for (const auto& probes : model.probes) {
    if (!probes.first_finished.empty() && (first.empty() || probes.first_finished < first))
      first = probes.first_finished;
    last = std::max(last, probes.last_finished);
  }
  std::map<std::string, int64_t> devices;
  for (const auto& probes : model.probes)
    for (const auto& [device, count] : probes.devices) devices[device] += count;
  std::string device_text;
  for (const auto& [device, count] : devices)
    device_text += (device_text.empty() ? "" : "; ") + device + " (" + std::to_string(count) + " probes)";
  const auto fact = [&](const std::string& name, const std::string& value_html) {
    page.add("<dt>" + escape_html(name) + "</dt><dd>" + value_html + "</dd>");
  };
  page.add("<dl class=\"facts\">");
  fact("run",
       escape_html(run.name) + " (" + escape_html(run.status) + ", started " + escape_html(run.created_at) + ")");
  fact("model", code(run.model.path));
  fact("model hash", code(run.model.content_hash));
  fact("architecture", escape_html(run.model.architecture) + ", " + std::to_string(run.model.num_layers) + " layers, " +
                           escape_html(format_count(run.model.parameters)) + " parameters");
  fact("data", code(run.dataset.spec));
  fact("data hash", code(run.dataset.content_hash));
  fact("data size",
       std::to_string(run.dataset.samples) + " samples, " + escape_html(format_count(run.dataset.tokens)) + " tokens");
  fact("code version", code(run.code_version));
  fact("seed", std::to_string(run.seed));
  fact("probes finished", escape_html(first.empty() ? "none yet" : first_and_last(first, last)));
  fact("devices of the probes", escape_html(device_text.empty() ? "none recorded" : device_text));
  fact("results database", code(model.database_path));
  page.add("</dl>\n<h3>Run configuration</h3><pre>" +
           escape_html(run.config.dump(2, ' ', false, nlohmann::json::error_handler_t::replace)) + "</pre>\n");

  if (!model.probes.empty()) {
    page.add("<table><caption>Probes of this run</caption><thead><tr>" + th("method") + th("done", true) +
             th("pending", true) + th("running", true) + th("failed", true) + th("time (s)", true) + th("devices") +
             th("finished") + "</tr></thead><tbody>");
    for (const auto& probes : model.probes) {
      std::string on;
      for (const auto& [device, count] : probes.devices)
        on += (on.empty() ? "" : "; ") + device + " ×" + std::to_string(count);
      const auto status = [&](const char* name) {
        auto found = probes.by_status.find(name);
        return std::to_string(found == probes.by_status.end() ? 0 : found->second);
      };
      page.add("<tr>" + td(LayerScores{probes.kind, probes.variant, {}, {}}.label()) + td(status("done"), true) +
               td(status("pending"), true) + td(status("running"), true) + td(status("failed"), true) +
               td(number(probes.seconds), true) + td(on) +
               td(first_and_last(probes.first_finished, probes.last_finished)) + "</tr>");
    }
    page.add("</tbody></table>\n");
    for (const auto& probes : model.probes)
      for (const auto& error : probes.errors)
        page.add("<p class=\"note\">Failed " + escape_html(probes.kind) + " probe, " + escape_html(error) + "</p>\n");
  }

  page.add("<h3>Missing results</h3>\n");
  if (model.missing.empty()) {
    page.add("<p>Every result the report shows is in the store.</p>\n");
  } else {
    page.add("<p>The store lacks these; each command produces what it names.</p><ul class=\"missing-list\">");
    for (const auto& missing : model.missing)
      page.add("<li>" + escape_html(missing.what) + "<pre><code>" + escape_html(missing.command) +
               "</code></pre></li>");
    page.add("</ul>\n");
  }
  page.add("</section>\n");
}

void layer_importance(Page& page, const ReportModel& model) {
  page.add(
      "<section id=\"layers\" aria-labelledby=\"layers-h\"><h2 id=\"layers-h\">3. Layer importance</h2>\n"
      "<p>Per-layer scores: leave-one-out (LOO) ablations, MMR probes (a MIL-initialised Mamba mixer distilled in "
      "place of the layer's attention) and cheap proxies, with 95% bootstrap confidence intervals. For every "
      "method a lower score means the layer matters less and is replaced earlier.</p>\n");
  missing_notes(page, model, "layers");
  if (!model.teacher.empty()) {
    std::string text;
    for (const auto& [metric, summary] : model.teacher)
      text += (text.empty() ? "" : "; ") + metric + " " + with_ci(summary) + " over " +
              std::to_string(summary.samples) + " samples";
    page.add("<p>Teacher on the scoring data: " + escape_html(text) + ".</p>\n");
  }
  for (const auto& chart : layer_score_charts(model)) page.chart_with_table(chart);
  if (auto chart = mmr_curve_chart(model)) page.chart_with_table(*chart);

  const auto& methods = model.ranking_methods;
  if (methods.size() >= 2) {
    const int64_t all_layers = model.run.model.num_layers;
    page.add(
        "<h3>Agreement between methods</h3><div class=\"table-box\"><table><caption>Spearman rank correlation of "
        "the per-layer scores (1 = same order, −1 = reversed), over all " +
        std::to_string(all_layers) + " layers unless n says fewer were scored by both</caption><thead><tr>" +
        th("method"));
    for (const auto& method : methods) page.add(th(method.label, true));
    page.add("</tr></thead><tbody>");
    for (std::size_t i = 0; i < methods.size(); ++i) {
      page.add("<tr><th scope=\"row\">" + escape_html(methods[i].label) + "</th>");
      for (std::size_t j = 0; j < methods.size(); ++j) {
        const auto& correlation = model.correlations[i][j];
        char rho[32] = "—";
        if (correlation.rho) std::snprintf(rho, sizeof rho, "%.2f", *correlation.rho);
        const bool fewer = correlation.layers < all_layers;
        page.add(td(rho + (fewer ? " (n=" + std::to_string(correlation.layers) + ")" : std::string()), true));
      }
      page.add("</tr>");
    }
    page.add("</tbody></table></div>\n");
  }

  if (!model.final_ranking.empty()) {
    page.add("<h3>Final ranking</h3><p>Layers in the order they are replaced, from " +
             escape_html(model.final_ranking_source) +
             ".</p><div class=\"table-box\"><table><caption>Final ranking "
             "with each method's score (and rank)</caption><thead><tr>" +
             th("order", true) + th("layer", true));
    for (const auto& method : methods) page.add(th(method.label, true));
    page.add("</tr></thead><tbody>");
    std::vector<std::map<int64_t, int64_t>> rank_of(methods.size());
    for (std::size_t m = 0; m < methods.size(); ++m) {
      std::vector<std::pair<double, int64_t>> ordered;
      for (const auto& [layer, value] : methods[m].by_layer) ordered.emplace_back(value, layer);
      std::stable_sort(ordered.begin(), ordered.end());
      for (std::size_t r = 0; r < ordered.size(); ++r) rank_of[m][ordered[r].second] = int64_t(r) + 1;
    }
    for (std::size_t position = 0; position < model.final_ranking.size(); ++position) {
      const int64_t layer = model.final_ranking[position];
      page.add("<tr>" + td(std::to_string(position + 1), true) + td(std::to_string(layer), true));
      for (std::size_t m = 0; m < methods.size(); ++m) {
        auto value = methods[m].by_layer.find(layer);
        page.add(td(value == methods[m].by_layer.end()
                        ? ""
                        : number(value->second) + " (" + std::to_string(rank_of[m][layer]) + ")",
                    true));
      }
      page.add("</tr>");
    }
    page.add("</tbody></table></div>\n");
  }
  page.add("</section>\n");
}

std::string stage_row_header(const StageView& view) {
  const auto& stage = view.stage;
  std::string text = "stage " + std::to_string(stage.position) + " · " + std::to_string(stage.mamba_layers) + " Mamba";
  if (!stage.new_layers.empty()) text += " · +" + join(stage.new_layers);
  return text + " · " + stage.status;
}

void layer_grid(Page& page, const PlanView& plan, int64_t num_layers) {
  std::size_t width = std::size_t(std::max<int64_t>(num_layers, 0));
  for (const auto& stage : plan.stages) width = std::max(width, stage.stage.layout.size());
  page.add("<div class=\"table-box\"><table class=\"grid\"><caption>Layer map of plan " + std::to_string(plan.plan.id) +
           ": <span class=\"legend-key m\">M</span> Mamba, <span class=\"legend-key\">A</span> attention, "
           "<span class=\"legend-key m new\">M</span> replaced in that stage</caption><thead><tr><th "
           "scope=\"col\">layer</th>");
  for (std::size_t layer = 0; layer < width; ++layer) page.add("<th scope=\"col\">" + std::to_string(layer) + "</th>");
  page.add("</tr></thead><tbody><tr><th scope=\"row\">teacher</th>");
  for (std::size_t layer = 0; layer < width; ++layer) page.add("<td class=\"a\">A</td>");
  page.add("</tr>");
  for (const auto& view : plan.stages) {
    page.add("<tr><th scope=\"row\">" + escape_html(stage_row_header(view)) + "</th>");
    for (std::size_t layer = 0; layer < width; ++layer) {
      const char letter = layer < view.stage.layout.size() ? view.stage.layout[layer] : '?';
      const bool fresh = std::count(view.stage.new_layers.begin(), view.stage.new_layers.end(), int64_t(layer)) > 0;
      const std::string cls = letter == 'M' ? (fresh ? "m new" : "m") : "a";
      page.add("<td class=\"" + cls + "\">" + escape_html(std::string(1, letter)) + "</td>");
    }
    page.add("</tr>");
  }
  page.add("</tbody></table></div>\n");
}

void plans(Page& page, const ReportModel& model) {
  page.add("<section id=\"plans\" aria-labelledby=\"plans-h\"><h2 id=\"plans-h\">4. Plans</h2>\n");
  missing_notes(page, model, "plans");
  for (const auto& view : model.plans) {
    const auto& plan = view.plan;
    page.add("<h3>Plan " + std::to_string(plan.id) + ": " + escape_html(plan.strategy) +
             (view.forward_kl() ? ", distilled with forward KL" : "") + "</h3><p>Replacement order " +
             escape_html(join(plan.layer_order)) + "; made " + escape_html(plan.created_at) + ".</p>");
    if (!plan.config.is_null() && !plan.config.empty())
      page.add("<pre>" + escape_html(plan.config.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)) +
               "</pre>");
    layer_grid(page, view, model.run.model.num_layers);
    const auto group = [](const std::string& name) {
      return "<th scope=\"colgroup\" colspan=\"2\">" + escape_html(name) + "</th>";
    };
    const auto spanned = [](const std::string& name) {
      return "<th scope=\"col\" rowspan=\"2\">" + escape_html(name) + "</th>";
    };
    page.add("<div class=\"table-box\"><table><caption>Targets of plan " + std::to_string(plan.id) +
             ": predicted, and measured where the stage was distilled and benchmarked</caption><thead><tr>" +
             spanned("Mamba layers") + spanned("SSM : attention") + spanned("stage") + spanned("quality metric") +
             group("quality") + group("speed-up") + group("memory / sequence") + spanned("predicted tokens/s") +
             spanned("max batch") + "</tr><tr>" + th("predicted [95% CI]", true) + th("measured", true) +
             th("predicted", true) + th("measured", true) + th("predicted", true) + th("measured", true) +
             "</tr></thead><tbody>");
    for (const auto& target_view : view.targets) {
      const auto& target = target_view.target;
      const int64_t attention = int64_t(std::count(target.layout.begin(), target.layout.end(), 'A'));
      const auto& bench = target_view.benchmark;
      page.add("<tr>" + td(std::to_string(target.mamba_layers), true) +
               td(std::to_string(target.mamba_layers) + " : " + std::to_string(attention), true) +
               td(std::to_string(target.stage_position), true) + td(target.quality_metric) +
               td(target.predicted_quality ? with_ci(*target.predicted_quality) : "", true) +
               td(number(target_view.measured_quality), true) + td(speedup(target.predicted_speedup), true) +
               td(bench ? speedup(bench->ratio_to_teacher) : "", true) + td(bytes(target.memory_per_sequence), true) +
               td(bench ? bytes(bench->memory_per_sequence) : "", true) +
               td(number(target.predicted_tokens_per_s), true) + td(std::to_string(target.max_batch), true) + "</tr>");
    }
    page.add("</tbody></table></div>\n");
  }
  page.add("</section>\n");
}

void distillation(Page& page, const ReportModel& model) {
  page.add(
      "<section id=\"distillation\" aria-labelledby=\"distillation-h\"><h2 id=\"distillation-h\">5. "
      "Distillation</h2>\n");
  missing_notes(page, model, "distillation");
  if (model.plans.empty()) page.add("<p>No plan yet, so no stage to distil.</p>\n");
  for (const auto& view : model.plans) {
    page.add("<h3>Plan " + std::to_string(view.plan.id) + ": " + escape_html(view.plan.strategy) +
             (view.forward_kl() ? ", forward KL" : "") + "</h3>");
    // The training settings are the same for every stage of a plan: one line, not a column each.
    const std::string settings_prefix = "settings.";
    std::vector<std::string> names;        // every evaluation value any stage reported
    const StageView* described = nullptr;  // the first stage that recorded its settings
    std::string settings;
    for (const auto& stage : view.stages)
      for (const auto& [name, value] : stage.metrics.values) {
        if (name.rfind(settings_prefix, 0) != 0) {
          if (!std::count(names.begin(), names.end(), name)) names.push_back(name);
        } else if (!described || described == &stage) {
          described = &stage;
          settings += ", " + name.substr(settings_prefix.size()) + " " + number(value);
        }
      }
    if (described)
      page.add("<p class=\"note\">Training settings: " +
               escape_html(
                   (described->metrics.divergence.empty() ? "divergence unrecorded" : described->metrics.divergence) +
                   settings) +
               ".</p>");
    page.add("<div class=\"table-box\"><table><caption>Stages of plan " + std::to_string(view.plan.id) +
             ": training and evaluation</caption><thead><tr>" + th("stage", true) + th("from") +
             th("Mamba layers", true) + th("new layers") + th("token budget", true) + th("tokens used", true) +
             th("status") + th("checkpoint"));
    for (const auto& name : names) page.add(th(name, true));
    page.add("</tr></thead><tbody>");
    for (const auto& stage_view : view.stages) {
      const auto& stage = stage_view.stage;
      page.add("<tr>" + td(std::to_string(stage.position), true) +
               td(stage.parent_position ? "stage " + std::to_string(*stage.parent_position) : "teacher") +
               td(std::to_string(stage.mamba_layers), true) + td(join(stage.new_layers)) +
               td(format_count(stage.token_budget), true) +
               td(stage_view.metrics.tokens ? format_count(*stage_view.metrics.tokens) : "", true) + td(stage.status) +
               "<td>" + (stage.checkpoint.empty() ? "" : code(stage.checkpoint)) + "</td>");
      for (const auto& name : names) {
        const auto& metrics = stage_view.metrics;
        auto value = metrics.values.find(name);
        auto interval = metrics.intervals.find(name);
        if (value == metrics.values.end())
          page.add(td("", true));
        else if (interval == metrics.intervals.end())
          page.add(td(number(value->second), true));
        else
          page.add(value_cell(value->second, interval->second.first, interval->second.second));
      }
      page.add("</tr>");
    }
    page.add("</tbody></table></div>\n");
    if (auto chart = stage_loss_chart(view)) page.chart_with_table(*chart);
  }
  page.add("</section>\n");
}

void throughput(Page& page, const ReportModel& model) {
  page.add("<section id=\"throughput\" aria-labelledby=\"throughput-h\"><h2 id=\"throughput-h\">6. Throughput</h2>\n");
  missing_notes(page, model, "throughput");
  if (!model.benchmarks.empty()) {
    page.add("<div class=\"table-box\"><table><caption>Benchmarks of the teacher and the hybrids</caption><thead><tr>" +
             th("model") + th("layout") + th("setting (device, dtype, prompt + generated tokens, batch)") +
             th("prefill tokens/s", true) + th("decode tokens/s", true) + th("total tokens/s", true) +
             th("memory / sequence", true) + th("vs teacher", true) + th("measured") + "</tr></thead><tbody>");
    for (const auto& row : model.benchmarks)
      page.add("<tr>" + td(layout_name(row.layout)) + "<td>" + code(row.layout) + "</td>" +
               td(row.device + ", " + row.dtype + ", " + std::to_string(row.prompt_length) + " + " +
                  std::to_string(row.generation_length) + ", batch " + std::to_string(row.batch)) +
               td(number(row.prefill_tokens_per_s), true) + td(number(row.decode_tokens_per_s), true) +
               td(number(row.total_tokens_per_s), true) + td(bytes(row.memory_per_sequence), true) +
               td(speedup(row.ratio_to_teacher), true) + td(row.created_at) + "</tr>");
    page.add("</tbody></table></div>\n");
  }
  for (const auto& chart : {throughput_chart(model), frontier_chart(model), memory_chart(model)})
    if (chart) page.chart_with_table(*chart);
  if (model.benchmarks.empty() && model.plans.empty()) page.add("<p>No benchmark and no plan yet.</p>\n");
  page.add("</section>\n");
}

void benchmarks(Page& page, const ReportModel& model) {
  page.add("<section id=\"benchmarks\" aria-labelledby=\"benchmarks-h\"><h2 id=\"benchmarks-h\">7. Benchmarks</h2>\n");
  if (model.accuracy.empty()) {
    page.add("<p>No benchmark evaluation yet: " +
             code("hybridize eval --db " + model.database_path + " --plan ID --tasks FILE.jsonl") +
             " evaluates the teacher and every distilled stage (or give " + code("eval.tasks") + " to " +
             code("hybridize run") + ").</p>\n");
  }
  for (std::size_t b = 0; b < model.accuracy.size(); ++b) {
    const auto& benchmark = model.accuracy[b];
    page.add("<article><h3>" + escape_html(benchmark.task) + " <small>(" + escape_html(benchmark.settings) +
             ")</small></h3>\n<div class=\"table-box\"><table><caption>pass@1 of the teacher and every stage on " +
             escape_html(benchmark.task) + " (95% bootstrap interval over problems)</caption><thead><tr>" +
             th("model") + th("Mamba layers", true) + th("pass@1 (%)", true) + th("generations", true) +
             th("no answer", true) + th("truncated", true) + th("mean tokens", true) + th("speed-up", true) +
             th("status") + "</tr></thead><tbody>");
    for (const auto& point : benchmark.points) {
      const std::string who = point.stage_position ? point.plan + ", stage " + std::to_string(*point.stage_position)
                                                   : std::string("teacher");
      std::string row = "<tr>" + td(who) + td(std::to_string(point.mamba_layers), true);
      if (point.summary) {
        const auto& s = *point.summary;
        row += value_cell(100 * s.pass_at_1.value, as_percent(s.pass_at_1.ci_low), as_percent(s.pass_at_1.ci_high)) +
               td(std::to_string(s.generations), true) + td(std::to_string(s.no_answer), true) +
               td(std::to_string(s.truncated), true) + td(number(s.mean_tokens), true);
      } else {
        row += td("", true) + td("", true) + td("", true) + td("", true) + td("", true);
      }
      const std::string status = !point.note.empty() ? point.status + ": " + point.note
                                 : point.summary     ? point.status
                                                     : point.status + ", not evaluated";
      page.add(row + td(speedup(point.speedup), true) + td(status) + "</tr>");
    }
    page.add("</tbody></table></div>\n");
    if (auto chart = accuracy_frontier_chart(benchmark, "accuracy-" + std::to_string(b))) page.chart_with_table(*chart);
    page.add("</article>\n");
  }
  page.add("</section>\n");
}

}  // namespace

std::string render_html_report(const ReportModel& model, const ReportOptions& options) {
  const std::string title = options.title.empty() ? "hybridize report: " + model.run.name : options.title;
  Page page;
  page.add(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" +
      escape_html(title) + "</title>\n<script>" + kErrorRecorder + "</script>\n<style>\n");
  page.add(std::string(report_style()));
  page.add("</style>\n</head>\n<body>\n<header><h1>" + escape_html(title) + "</h1><p class=\"meta\">Run " +
           escape_html(model.run.name) + " of " + code(model.run.model.path) + " (" +
           escape_html(model.run.model.architecture) + ", " + std::to_string(model.run.model.num_layers) +
           " layers)</p>\n<nav aria-label=\"Sections\"><ol><li><a href=\"#findings\">1. Findings</a></li>"
           "<li><a href=\"#provenance\">2. Provenance</a></li><li><a href=\"#layers\">3. Layer importance</a></li>"
           "<li><a href=\"#plans\">4. Plans</a></li><li><a href=\"#distillation\">5. Distillation</a></li>"
           "<li><a href=\"#throughput\">6. Throughput</a></li><li><a href=\"#benchmarks\">7. Benchmarks</a></li>"
           "</ol></nav></header>\n<main>\n");
  findings(page, model);
  provenance(page, model);
  layer_importance(page, model);
  plans(page, model);
  distillation(page, model);
  throughput(page, model);
  benchmarks(page, model);
  page.add("</main>\n<footer>Written " + escape_html(options.generated_at) + " by hybridize " +
           escape_html(options.generator) + " from " + code(model.database_path) + ".</footer>\n");
  page.add("<script type=\"application/json\" id=\"report-data\">" +
           json_for_script(nlohmann::json{{"charts", page.charts()}}) + "</script>\n<script>\n");
  page.add(std::string(chart_library_js()));
  page.add("\n</script>\n<script>\n");
  page.add(std::string(report_script()));
  page.add("</script>\n</body>\n</html>\n");
  return std::move(page.html());
}

}  // namespace hybridize::reports
