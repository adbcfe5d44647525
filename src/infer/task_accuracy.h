#pragma once
// Task accuracy by greedy generation on the built-in synthetic task: does the
// model, given a problem's prompt, generate the expected final answer (the
// task's exact-match scorer)? LOO measures what a removed layer costs with it,
// and distillation what a stage keeps. Benchmark task files go through
// infer/evaluation.h instead.
#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "model/causal_lm.h"

namespace hybridize::infer {

struct TaskAnswers {
  std::vector<std::vector<int64_t>> prompts;
  std::vector<std::string> answers;
  int64_t max_new_tokens = 0;  // longest completion to wait for
};

// Rows [begin, end) of a synthetic-task sequence set (its prompts, answers and
// loss mask [rows, tokens]), generating up to their longest completion.
TaskAnswers task_answers(const std::vector<std::vector<int64_t>>& prompts, const std::vector<std::string>& answers,
                         const at::Tensor& loss_mask, int64_t begin, int64_t end);

// Per sample: 1 when the greedy completion's answer is exactly the expected one, else 0.
std::vector<double> answers_correct(model::CausalLMImpl& model, const TaskAnswers& task);

}  // namespace hybridize::infer
