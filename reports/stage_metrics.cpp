#include "reports/stage_metrics.h"

namespace hybridize::reports {

namespace {

std::optional<std::pair<double, double>> curve_point(const nlohmann::json& entry, std::size_t index) {
  if (entry.is_number()) return std::pair{double(index), entry.get<double>()};
  if (entry.is_array() && entry.size() == 2 && entry[0].is_number() && entry[1].is_number())
    return std::pair{entry[0].get<double>(), entry[1].get<double>()};
  if (entry.is_object() && entry.contains("step") && entry.contains("loss") && entry["step"].is_number() &&
      entry["loss"].is_number())
    return std::pair{entry["step"].get<double>(), entry["loss"].get<double>()};
  return std::nullopt;
}

bool names_a_curve(const std::string& key) {
  return key.find("loss") != std::string::npos || key.find("curve") != std::string::npos;
}

// The executor's evaluation entries: {"mean", "ci_low", "ci_high", "samples"}.
bool is_summary(const nlohmann::json& value) {
  return value.is_object() && value.contains("mean") && value["mean"].is_number();
}

void collect(const nlohmann::json& object, const std::string& prefix, StageMetrics& out) {
  for (const auto& [key, value] : object.items()) {
    if (prefix.empty() && key == "eval_samples") continue;  // read by read_per_sample
    const std::string name = prefix + key;
    if (value.is_number() && !(prefix.empty() && key == "tokens" && out.tokens)) {
      out.values[name] = value.get<double>();
    } else if (is_summary(value)) {
      out.values[name] = value["mean"].get<double>();
      if (value.contains("ci_low") && value.contains("ci_high") && value["ci_low"].is_number() &&
          value["ci_high"].is_number())
        out.intervals[name] = {value["ci_low"].get<double>(), value["ci_high"].get<double>()};
    } else if (value.is_object()) {
      const bool evaluation = prefix.empty() && (key == "eval" || key == "evaluation");
      collect(value, evaluation ? "" : name + ".", out);
    } else if (value.is_array() && out.loss_curve.empty() && names_a_curve(key)) {
      std::vector<std::pair<double, double>> curve;
      for (std::size_t i = 0; i < value.size(); ++i) {
        const auto point = curve_point(value[i], i);
        if (!point) {
          curve.clear();
          break;
        }
        curve.push_back(*point);
      }
      out.loss_curve = std::move(curve);
    }
  }
}

void read_per_sample(const nlohmann::json& samples, StageMetrics& out) {
  if (!samples.is_object()) return;
  for (const auto& [metric, values] : samples.items()) {
    if (!values.is_array() || values.empty()) continue;
    std::vector<double> numbers;
    for (const auto& value : values) {
      if (!value.is_number()) break;
      numbers.push_back(value.get<double>());
    }
    if (numbers.size() == values.size()) out.per_sample[metric] = std::move(numbers);
  }
}

std::string text_at(const nlohmann::json& object, const char* key) {
  return object.is_object() && object.contains(key) && object[key].is_string() ? object[key].get<std::string>() : "";
}

}  // namespace

StageMetrics read_stage_metrics(const nlohmann::json& metrics) {
  StageMetrics out;
  if (!metrics.is_object()) return out;
  // An integer count; anything else stays among the plain values.
  if (metrics.contains("tokens") && metrics["tokens"].is_number_integer() && metrics["tokens"].get<int64_t>() >= 0)
    out.tokens = metrics["tokens"].get<int64_t>();
  collect(metrics, "", out);
  if (metrics.contains("eval_samples")) read_per_sample(metrics["eval_samples"], out);
  out.eval_data = text_at(metrics, "eval_data");
  if (metrics.contains("settings")) out.divergence = text_at(metrics["settings"], "divergence");
  return out;
}

}  // namespace hybridize::reports
