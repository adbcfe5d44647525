#include "infer/task_accuracy.h"

#include <algorithm>

#include "data/answer_scorer.h"
#include "data/synthetic_vocabulary.h"
#include "infer/generate.h"

namespace hybridize::infer {

TaskAnswers task_answers(const std::vector<std::vector<int64_t>>& prompts, const std::vector<std::string>& answers,
                         const at::Tensor& loss_mask, int64_t begin, int64_t end) {
  TaskAnswers task;
  task.prompts.assign(prompts.begin() + begin, prompts.begin() + end);
  task.answers.assign(answers.begin() + begin, answers.begin() + end);
  // Two tokens of slack: a model that runs past the expected end still gets its answer parsed.
  task.max_new_tokens = loss_mask.slice(0, begin, end).sum(1).max().item<int64_t>() + 2;
  return task;
}

std::vector<double> answers_correct(model::CausalLMImpl& model, const TaskAnswers& task) {
  namespace synthetic = data::synthetic;
  GenerationOptions options;
  options.max_new_tokens = task.max_new_tokens;
  options.stop_tokens = {synthetic::kEosId};
  options.pad_id = synthetic::kPadId;
  const auto completions = generate(model, task.prompts, options);
  std::vector<double> correct;
  for (std::size_t i = 0; i < completions.size(); ++i) {
    // A model with a larger vocabulary may emit ids the task does not have: the answer is then malformed.
    const auto& ids = completions[i];
    const bool in_vocabulary =
        std::all_of(ids.begin(), ids.end(), [](int64_t id) { return id >= 0 && id < synthetic::kVocabSize; });
    correct.push_back(in_vocabulary && synthetic::score_answer(synthetic::decode(ids), task.answers[i]) ==
                                           synthetic::Verdict::Correct
                          ? 1.0
                          : 0.0);
  }
  return correct;
}

}  // namespace hybridize::infer
