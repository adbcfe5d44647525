#pragma once
// Task accuracy by greedy generation: does the model, given a problem's
// prompt, generate the expected final answer (the synthetic task's exact-match
// scorer)? Used by LOO to measure the accuracy a removed layer costs.
#include <cstdint>
#include <string>
#include <vector>

#include "model/causal_lm.h"

namespace hybridize::search {

struct TaskAnswers {
  std::vector<std::vector<int64_t>> prompts;
  std::vector<std::string> answers;
  int64_t max_new_tokens = 0;  // longest completion to wait for
};

// Per sample: 1 when the greedy completion's answer is exactly the expected one, else 0.
std::vector<double> answers_correct(model::CausalLMImpl& model, const TaskAnswers& task);

}  // namespace hybridize::search
