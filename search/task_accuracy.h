#pragma once
// Task accuracy by greedy generation: does the model, given a problem's
// prompt, generate the expected final answer (the synthetic task's exact-match
// scorer)? Used by LOO to measure the accuracy a removed layer costs.
#include <cstdint>
#include <string>
#include <vector>

#include "model/causal_lm.h"
#include "train/sequence_set.h"

namespace hybridize::search {

struct TaskAnswers {
  std::vector<std::vector<int64_t>> prompts;
  std::vector<std::string> answers;
  int64_t max_new_tokens = 0;  // longest completion to wait for
};

// Rows [begin, end) of a synthetic-task sequence set, generating up to their longest completion.
TaskAnswers task_answers(const train::SequenceSet& set, int64_t begin, int64_t end);

// Per sample: 1 when the greedy completion's answer is exactly the expected one, else 0.
std::vector<double> answers_correct(model::CausalLMImpl& model, const TaskAnswers& task);

}  // namespace hybridize::search
