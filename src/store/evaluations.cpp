#include "store/evaluations.h"

#include <functional>

#include "core/error.h"
#include "core/hashing.h"
#include "store/bootstrap.h"

namespace hybridize::store {

namespace {

int64_t find_or_add_task(Database& database, const EvalTaskRecord& task) {
  Statement find(database, "SELECT id FROM eval_tasks WHERE content_hash = ?1");
  find.bind(1, task.content_hash);
  if (find.step()) return find.integer(0);
  Statement insert(database, "INSERT INTO eval_tasks (name, path, content_hash, problems) VALUES (?1, ?2, ?3, ?4)");
  insert.bind(1, task.name).bind(2, task.path).bind(3, task.content_hash).bind(4, task.problems);
  insert.run();
  return database.last_insert_id();
}

constexpr const char* kSelectEvaluations =
    "SELECT e.id, m.path, m.content_hash, m.architecture, m.num_layers, m.parameters, t.name, t.path, t.content_hash, "
    "t.problems, e.settings, e.code_version, e.stage_id, e.status, e.seconds, e.created_at "
    "FROM evaluations e JOIN models m ON m.id = e.model_id JOIN eval_tasks t ON t.id = e.task_id ";

}  // namespace

EvaluationRecord EvaluationStore::open(const ModelRecord& model, const EvalTaskRecord& task,
                                       const nlohmann::json& settings, const std::string& code_version,
                                       std::optional<int64_t> stage_id) {
  Database& database = store_.database();
  const std::string settings_hash = hash_text(settings.dump());
  const int64_t model_id = store_.model_id(model);
  int64_t task_id = 0;
  {
    Transaction transaction(database);
    task_id = find_or_add_task(database, task);
    Statement insert(database,
                     "INSERT INTO evaluations (model_id, task_id, settings, settings_hash, code_version, stage_id) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (model_id, task_id, settings_hash) DO UPDATE SET "
                     "stage_id = coalesce(stage_id, excluded.stage_id)");
    insert.bind(1, model_id)
        .bind(2, task_id)
        .bind(3, settings.dump())
        .bind(4, settings_hash)
        .bind(5, code_version)
        .bind(6, stage_id);
    insert.run();
    transaction.commit();
  }
  auto found = read("WHERE e.model_id = ?1 AND e.task_id = ?2 AND e.settings_hash = ?3",
                    [&](Statement& query) { query.bind(1, model_id).bind(2, task_id).bind(3, settings_hash); });
  if (!found.empty()) return std::move(found.front());
  fail(database.path().string(), ": evaluation of ", model.path, " on ", task.name, " not found after it was written");
}

std::set<std::pair<int64_t, int64_t>> EvaluationStore::done(int64_t evaluation_id) {
  Statement query(store_.database(), "SELECT problem, sample FROM eval_samples WHERE evaluation_id = ?1");
  query.bind(1, evaluation_id);
  std::set<std::pair<int64_t, int64_t>> pairs;
  while (query.step()) pairs.emplace(query.integer(0), query.integer(1));
  return pairs;
}

void EvaluationStore::record(int64_t evaluation_id, const std::vector<EvalSampleRecord>& samples, double seconds) {
  Database& database = store_.database();
  Transaction transaction(database);
  Statement insert(database,
                   "INSERT OR IGNORE INTO eval_samples (evaluation_id, problem, sample, outcome, truncated, tokens, "
                   "extracted, completion) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  for (const auto& sample : samples) {
    insert.reset();
    insert.bind(1, evaluation_id)
        .bind(2, sample.problem)
        .bind(3, sample.sample)
        .bind(4, sample.outcome)
        .bind(5, int64_t(sample.truncated))
        .bind(6, sample.tokens)
        .bind(7, sample.extracted)
        .bind(8, sample.completion);
    insert.run();
  }
  Statement time(database, "UPDATE evaluations SET seconds = seconds + ?2 WHERE id = ?1");
  time.bind(1, evaluation_id).bind(2, seconds);
  time.run();
  transaction.commit();
}

void EvaluationStore::finish(int64_t evaluation_id) {
  Statement update(store_.database(), "UPDATE evaluations SET status = 'done' WHERE id = ?1");
  update.bind(1, evaluation_id);
  update.run();
}

std::vector<EvalSampleRecord> EvaluationStore::samples(int64_t evaluation_id, bool with_completions) {
  Statement query(store_.database(), std::string("SELECT problem, sample, outcome, truncated, tokens, extracted, ") +
                                         (with_completions ? "completion" : "''") +
                                         " FROM eval_samples WHERE evaluation_id = ?1 ORDER BY problem, sample");
  query.bind(1, evaluation_id);
  std::vector<EvalSampleRecord> samples;
  while (query.step())
    samples.push_back({query.integer(0), query.integer(1), query.text(2), query.integer(3) != 0, query.integer(4),
                       query.text(5), query.text(6)});
  return samples;
}

std::vector<EvaluationRecord> EvaluationStore::read(const std::string& where,
                                                    const std::function<void(Statement&)>& bind) {
  Statement query(store_.database(), kSelectEvaluations + where + " ORDER BY e.id");
  if (bind) bind(query);
  std::vector<EvaluationRecord> records;
  while (query.step()) {
    EvaluationRecord record;
    record.id = query.integer(0);
    record.model = {query.text(1), query.text(2), query.text(3), query.integer(4), query.integer(5)};
    record.task = {query.text(6), query.text(7), query.text(8), query.integer(9)};
    record.settings = nlohmann::json::parse(query.text(10));
    record.code_version = query.text(11);
    record.stage_id = query.optional_integer(12);
    record.status = query.text(13);
    record.seconds = query.real(14);
    record.created_at = query.text(15);
    records.push_back(std::move(record));
  }
  return records;
}

std::vector<EvaluationRecord> EvaluationStore::evaluations(std::optional<int64_t> stage_id) {
  if (!stage_id) return read("", {});
  return read("WHERE e.stage_id = ?1", [&](Statement& query) { query.bind(1, *stage_id); });
}

std::map<int64_t, double> problem_pass_rates(const std::vector<EvalSampleRecord>& samples) {
  std::map<int64_t, std::pair<double, double>> counts;  // correct, generations
  for (const auto& sample : samples) {
    auto& [correct, generations] = counts[sample.problem];
    correct += sample.outcome == "correct" ? 1 : 0;
    generations += 1;
  }
  std::map<int64_t, double> rates;
  for (const auto& [problem, count] : counts) rates[problem] = count.first / count.second;
  return rates;
}

EvalSummary summarize_evaluation(const std::vector<EvalSampleRecord>& samples, uint64_t bootstrap_seed) {
  if (samples.empty()) fail("an evaluation without judged generations has no pass@1");
  EvalSummary summary;
  double tokens = 0;
  for (const auto& sample : samples) {
    summary.correct += sample.outcome == "correct";
    summary.wrong += sample.outcome == "wrong";
    summary.no_answer += sample.outcome == "no_answer";
    summary.truncated += sample.truncated;
    tokens += double(sample.tokens);
  }
  std::vector<double> rates;
  for (const auto& [problem, rate] : problem_pass_rates(samples)) rates.push_back(rate);
  summary.pass_at_1 = bootstrap_mean(rates, {.seed = bootstrap_seed});
  summary.problems = int64_t(rates.size());
  summary.generations = int64_t(samples.size());
  summary.mean_tokens = tokens / double(samples.size());
  return summary;
}

}  // namespace hybridize::store
