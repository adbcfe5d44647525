#include "search/task_accuracy.h"

#include <algorithm>

#include "data/answer_scorer.h"
#include "data/synthetic_vocabulary.h"
#include "infer/generate.h"

namespace hybridize::search {

TaskAnswers task_answers(const train::SequenceSet& set, int64_t begin, int64_t end) {
  TaskAnswers task;
  task.prompts.assign(set.prompts.begin() + begin, set.prompts.begin() + end);
  task.answers.assign(set.answers.begin() + begin, set.answers.begin() + end);
  // Two tokens of slack: a model that runs past the expected end still gets its answer parsed.
  task.max_new_tokens = set.loss_mask.slice(0, begin, end).sum(1).max().item<int64_t>() + 2;
  return task;
}

std::vector<double> answers_correct(model::CausalLMImpl& model, const TaskAnswers& task) {
  namespace synthetic = data::synthetic;
  infer::GenerationOptions options;
  options.max_new_tokens = task.max_new_tokens;
  options.stop_tokens = {synthetic::kEosId};
  options.pad_id = synthetic::kPadId;
  const auto completions = infer::generate(model, task.prompts, options);
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

}  // namespace hybridize::search
