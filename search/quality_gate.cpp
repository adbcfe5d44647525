#include "search/quality_gate.h"

#include <cstdio>

#include "store/bootstrap.h"

namespace hybridize::search {

namespace {

std::string percent(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f%%", 100 * value);
  return text;
}

std::string points(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", 100 * value);
  return text;
}

}  // namespace

std::optional<std::string> gate_verdict(const QualityGate& gate, const std::vector<GatedTask>& tasks, uint64_t seed) {
  for (const auto& task : tasks) {
    if (task.stage.empty()) continue;
    const auto stage = store::summarize_evaluation(task.stage, seed).pass_at_1.value;
    if (gate.max_drop_points > 0 && !task.teacher.empty()) {
      const auto teacher = store::summarize_evaluation(task.teacher, seed).pass_at_1.value;
      if (teacher - stage > gate.max_drop_points / 100)
        return task.task + ": pass@1 " + percent(stage) + " is " + points(teacher - stage) +
               " points below the teacher's " + percent(teacher) + " (gate: " + points(gate.max_drop_points / 100) +
               ")";
    }
    if (gate.stop_below_parent && !task.parent.empty()) {
      // Paired by problem: both were evaluated on the same problems.
      const auto mine = store::problem_pass_rates(task.stage), theirs = store::problem_pass_rates(task.parent);
      std::vector<double> differences;
      for (const auto& [problem, rate] : mine)
        if (const auto found = theirs.find(problem); found != theirs.end()) differences.push_back(rate - found->second);
      if (differences.size() < 2) continue;
      const auto difference = store::bootstrap_mean(differences, {.seed = seed});
      if (difference.ci_high && *difference.ci_high < 0)
        return task.task + ": pass@1 fell " + points(-difference.value) +
               " points below the parent stage's, beyond noise " + "(95% interval of the difference [" +
               points(*difference.ci_low) + ", " + points(*difference.ci_high) + "])";
    }
  }
  return std::nullopt;
}

}  // namespace hybridize::search
