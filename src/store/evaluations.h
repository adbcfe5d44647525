#pragma once
// Benchmark evaluations in the results database (`hybridize eval`, schema
// version 3): which model was evaluated on which task file under which
// generation settings, and every judged generation, so an evaluation that
// stops resumes with what is missing and a report reads pass@1 per stage.
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "store/results_store.h"

namespace hybridize::store {

struct EvalTaskRecord {
  std::string name;
  std::string path;
  std::string content_hash;
  int64_t problems = 0;
};

// One generation for one problem, judged (data/answer_checker.h).
struct EvalSampleRecord {
  int64_t problem = 0;  // index in the task file
  int64_t sample = 0;
  std::string outcome;     // "correct", "wrong" or "no_answer"
  bool truncated = false;  // ended at its token budget, not at a stop token
  int64_t tokens = 0;
  std::string extracted;   // the answer as the generation wrote it; "" for none
  std::string completion;  // the generated text
};

struct EvaluationRecord {
  int64_t id = 0;
  ModelRecord model;
  EvalTaskRecord task;
  nlohmann::json settings;  // generation settings and prompt format; "samples" is the count per problem
  std::string code_version;
  std::optional<int64_t> stage_id;
  std::string status;  // "running" or "done"
  double seconds = 0;
  std::string created_at;
};

// pass@1 as reasoning benchmarks report it: per problem the share of its
// samples judged correct, averaged over problems, with a bootstrap interval
// over problems.
struct EvalSummary {
  MetricSummary pass_at_1;
  int64_t problems = 0;  // with at least one sample
  int64_t generations = 0;
  int64_t correct = 0, wrong = 0, no_answer = 0;
  int64_t truncated = 0;
  double mean_tokens = 0;
};

class EvaluationStore {
 public:
  explicit EvaluationStore(ResultsStore& store) : store_(store) {}

  // The evaluation of `model` on `task` under `settings`, found or started;
  // a stage id given is recorded where none was.
  EvaluationRecord open(const ModelRecord& model, const EvalTaskRecord& task, const nlohmann::json& settings,
                        const std::string& code_version, std::optional<int64_t> stage_id);
  // The (problem, sample) pairs already judged.
  std::set<std::pair<int64_t, int64_t>> done(int64_t evaluation_id);
  // Adds judged generations and `seconds` of work in one transaction; a pair already there is kept.
  void record(int64_t evaluation_id, const std::vector<EvalSampleRecord>& samples, double seconds);
  void finish(int64_t evaluation_id);

  // Its judged generations by problem and sample; without their text unless `with_completions`.
  std::vector<EvalSampleRecord> samples(int64_t evaluation_id, bool with_completions = true);
  // Every evaluation, oldest first; of one stage when `stage_id` is given.
  std::vector<EvaluationRecord> evaluations(std::optional<int64_t> stage_id = std::nullopt);

 private:
  std::vector<EvaluationRecord> read(const std::string& where, const std::function<void(Statement&)>& bind);

  ResultsStore& store_;
};

// Per problem, the share of its generations judged correct.
std::map<int64_t, double> problem_pass_rates(const std::vector<EvalSampleRecord>& samples);

// Throws Error when `samples` is empty.
EvalSummary summarize_evaluation(const std::vector<EvalSampleRecord>& samples, uint64_t bootstrap_seed = 0);

}  // namespace hybridize::store
