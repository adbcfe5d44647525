#pragma once
// The jobs of one or more plans as a graph: scoring first, then each plan's
// stages, each depending on the stage whose checkpoint it starts from. Plans
// whose stages agree share them (same layout reached from the same parent), so
// several targets and strategies branch from one checkpoint. The executor runs
// jobs in the graph's topological order.
#include <cstdint>
#include <string>
#include <vector>

#include "store/results_store.h"

namespace hybridize::search {

struct StageJob {
  std::string layout;                             // the stage's layout: what the job produces
  std::string parent;                             // the layout it starts from ("" for the teacher)
  std::vector<std::pair<int64_t, int64_t>> uses;  // (plan id, stage position) that need it
};

// Jobs in an order where every job comes after the one it starts from.
// Throws Error when the stages do not form a tree rooted at the teacher.
std::vector<StageJob> execution_order(const std::vector<store::PlanRecord>& plans);

// The graph as indented text: one line per job under its parent.
std::string describe(const std::vector<StageJob>& jobs);

}  // namespace hybridize::search
