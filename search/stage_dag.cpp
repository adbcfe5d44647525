#include "search/stage_dag.h"

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/topological_sort.hpp>

#include <algorithm>
#include <iterator>
#include <map>

#include "core/error.h"

namespace hybridize::search {

std::vector<StageJob> execution_order(const std::vector<store::PlanRecord>& plans) {
  // One vertex per distinct (parent layout, layout): stages that agree are one job.
  std::map<std::pair<std::string, std::string>, std::size_t> index;
  std::vector<StageJob> jobs;
  for (const auto& plan : plans) {
    std::map<int64_t, const store::StageRecord*> by_position;
    for (const auto& stage : plan.stages) by_position[stage.position] = &stage;
    for (const auto& stage : plan.stages) {
      std::string parent;
      if (stage.parent_position) {
        const auto found = by_position.find(*stage.parent_position);
        if (found == by_position.end())
          fail("plan ", plan.id, ": stage ", stage.position, " starts from missing stage ", *stage.parent_position);
        parent = found->second->layout;
      }
      const auto key = std::make_pair(parent, stage.layout);
      auto [it, added] = index.emplace(key, jobs.size());
      if (added) jobs.push_back({stage.layout, parent, {}});
      jobs[it->second].uses.emplace_back(plan.id, stage.position);
    }
  }
  using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS>;
  Graph graph(jobs.size());
  for (std::size_t child = 0; child < jobs.size(); ++child) {
    if (jobs[child].parent.empty()) continue;
    bool linked = false;
    for (std::size_t parent = 0; parent < jobs.size(); ++parent)
      if (jobs[parent].layout == jobs[child].parent) {
        boost::add_edge(parent, child, graph);
        linked = true;
        break;
      }
    if (!linked) fail("stage ", jobs[child].layout, " starts from ", jobs[child].parent, ", which no plan produces");
  }
  std::vector<std::size_t> reversed;
  try {
    boost::topological_sort(graph, std::back_inserter(reversed));
  } catch (const boost::not_a_dag&) {
    fail("the plans' stages form a cycle");
  }
  std::vector<StageJob> ordered;
  for (auto it = reversed.rbegin(); it != reversed.rend(); ++it) ordered.push_back(jobs[*it]);
  return ordered;
}

std::string describe(const std::vector<StageJob>& jobs) {
  std::map<std::string, int> depth{{"", 0}};
  std::string text = "score (teacher)\n";
  for (const auto& job : jobs) {
    const int level = depth[job.parent] + 1;
    depth[job.layout] = level;
    text += std::string(std::size_t(2 * level), ' ') + "-> " + job.layout + "  (" +
            std::to_string(std::count(job.layout.begin(), job.layout.end(), 'M')) + " Mamba; plan/stage";
    for (const auto& [plan, position] : job.uses) text += " " + std::to_string(plan) + "/" + std::to_string(position);
    text += ")\n";
  }
  return text;
}

}  // namespace hybridize::search
