#pragma once
// Quality gates of a plan's stages: after a stage is distilled and evaluated
// on the benchmark tasks, the plan goes on to its next stage only while the
// stage keeps enough of the teacher's accuracy. Replacing more layers never
// gives back what an earlier stage lost, so later stages of a failing plan
// would spend GPU hours on a result nobody would ship.
#include <optional>
#include <string>
#include <vector>

#include "store/evaluations.h"

namespace hybridize::search {

struct QualityGate {
  // A stage whose pass@1 on a task is more than this many percentage points
  // below the teacher's stops the plan; 0: no such gate.
  double max_drop_points = 0;
  // A stage below its parent stage beyond noise (the 95% bootstrap interval of
  // the per-problem difference lies below 0) stops the plan.
  bool stop_below_parent = false;

  bool enabled() const { return max_drop_points > 0 || stop_below_parent; }
};

// One task's generations: the teacher's, the parent stage's (none for a first stage) and the stage's.
struct GatedTask {
  std::string task;
  std::vector<store::EvalSampleRecord> teacher, parent, stage;
};

// Why the plan stops after this stage ("gsm8k: pass@1 41.0% is 23.5 points
// below the teacher's 64.5% (gate: 10)"), or nullopt when it passes on every task.
std::optional<std::string> gate_verdict(const QualityGate& gate, const std::vector<GatedTask>& tasks, uint64_t seed);

}  // namespace hybridize::search
