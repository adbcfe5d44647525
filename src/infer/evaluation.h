#pragma once
// Evaluating a model on a benchmark task file the way the Apriel-H1 report
// measures its stages: every problem rendered with the model's chat template,
// `samples` generations each through the serving engine (greedy, or sampled
// with per-generation seeds so a resumed run draws what an uninterrupted one
// would), each judged (data/answer_checker.h) and kept in the results store as
// it finishes, so a stopped evaluation resumes with what is missing.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "data/eval_prompts.h"
#include "data/eval_tasks.h"
#include "infer/generate.h"
#include "model/causal_lm.h"
#include "store/evaluations.h"

namespace hybridize::infer {

struct EvalSettings {
  int64_t samples = 1;     // generations per problem
  double temperature = 0;  // 0: greedy (then one sample is all there is)
  double top_p = 1;
  uint64_t seed = 0;
  int64_t max_new_tokens = 2048;  // a generation that reaches it is counted truncated
  std::string chat_template = "auto";
  // How the engine runs; not part of what is measured.
  int64_t max_batch = 0;         // rows decoding at once; 0: on a GPU the most memory_fraction of it holds, else 64
  double memory_fraction = 0.9;  // of the card: weights, prefill workspace and sequences (infer/memory_budget.h)
  int64_t prefill_tokens = kDefaultPrefillTokens;

  // Throws Error naming the setting that is impossible.
  void validate() const;
  // What the results depend on, as stored with them: these settings (less
  // the engine's, and less seed and top_p when greedy), the prompt format,
  // the model's dtype and device type.
  nlohmann::json provenance(const data::EvalPrompter& prompter, const model::CausalLMImpl& model) const;
};

// The request seed of generation `sample` of problem `problem`.
uint64_t generation_seed(int64_t problem, int64_t sample);

// Generates every (problem, sample) of `task` not in `done`, judges each and
// hands it to `on_result` as it finishes.
void generate_and_judge(model::CausalLMImpl& model, const data::EvalPrompter& prompter, const data::EvalTask& task,
                        const EvalSettings& settings, const std::set<std::pair<int64_t, int64_t>>& done,
                        const std::function<void(const store::EvalSampleRecord&)>& on_result);

struct EvalOutcome {
  store::EvaluationRecord evaluation;
  store::EvalSummary summary;
  int64_t generated = 0;  // generations this call made (the rest were in the store)
};

// Evaluates `model` (described by `record`, loaded from `model_dir`) on
// `task`: opens or resumes its evaluation in `store`, generates what is
// missing with progress on stderr, keeps results as they come, and marks it
// done. `stage_id` links it to a plan's stage.
EvalOutcome evaluate(store::ResultsStore& store, model::CausalLMImpl& model, const store::ModelRecord& record,
                     const std::filesystem::path& model_dir, const data::EvalTask& task, const EvalSettings& settings,
                     std::optional<int64_t> stage_id = std::nullopt);

}  // namespace hybridize::infer
