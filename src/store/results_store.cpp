#include "store/results_store.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <functional>

#include "core/error.h"
#include "store/schema.h"

namespace hybridize::store {

namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "localhost";
  return name;
}

// True for a zombie: killed, but not yet reaped by its parent, so kill(pid, 0) still finds it.
bool is_zombie(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  std::getline(stat, text);
  const auto name_end = text.rfind(')');  // the state follows the parenthesised command name
  return name_end != std::string::npos && name_end + 2 < text.size() &&
         (text[name_end + 2] == 'Z' || text[name_end + 2] == 'X');
}

// True when `worker` names a process on this host that no longer exists, or has died and awaits reaping.
bool worker_is_dead_here(const std::string& worker) {
  const auto colon = worker.rfind(':');
  if (colon == std::string::npos || worker.substr(0, colon) != host_name()) return false;
  const pid_t pid = static_cast<pid_t>(std::stoll(worker.substr(colon + 1)));
  return (::kill(pid, 0) != 0 && errno == ESRCH) || is_zombie(pid);
}

int64_t insert_or_find(Database& database, const char* find_sql, const std::string& hash,
                       const std::function<void()>& insert) {
  Statement find(database, find_sql);
  find.bind(1, hash);
  if (find.step()) return find.integer(0);
  insert();
  return database.last_insert_id();
}

int64_t find_or_add_model(Database& database, const ModelRecord& model) {
  return insert_or_find(database, "SELECT id FROM models WHERE content_hash = ?1", model.content_hash, [&] {
    Statement insert(
        database,
        "INSERT INTO models (path, content_hash, architecture, num_layers, parameters) VALUES (?1, ?2, ?3, ?4, ?5)");
    insert.bind(1, model.path)
        .bind(2, model.content_hash)
        .bind(3, model.architecture)
        .bind(4, model.num_layers)
        .bind(5, model.parameters);
    insert.run();
  });
}

}  // namespace

std::string this_worker() { return host_name() + ":" + std::to_string(::getpid()); }

namespace {
// Reading needs the current schema: an older store is opened for writing, to migrate it.
Access access_to_read(const std::filesystem::path& path) {
  Database current(path, Access::ReadOnly);
  const int version = known_schema_version(current);
  if (version == kSchemaVersion) return Access::ReadOnly;
  if (::access(path.c_str(), W_OK) != 0)
    fail(path.string(), ": results database has schema version ", version, ", older than this hybridize's ",
         kSchemaVersion, ", and cannot be migrated where it is (read-only)");
  return Access::ReadWrite;
}
}  // namespace

ResultsStore::ResultsStore(const std::filesystem::path& path, Access access)
    : database_(path, access == Access::ReadOnly ? access_to_read(path) : Access::ReadWrite) {
  migrate(database_);  // nothing to do on a store opened read-only, which is current
}

std::optional<RunRecord> ResultsStore::find_run(const std::string& name) {
  Statement query(database_,
                  "SELECT r.id, r.name, r.config, r.code_version, r.seed, r.status, r.created_at, "
                  "m.path, m.content_hash, m.architecture, m.num_layers, m.parameters, "
                  "d.spec, d.content_hash, d.samples, d.tokens "
                  "FROM runs r JOIN models m ON m.id = r.model_id JOIN datasets d ON d.id = r.dataset_id "
                  "WHERE r.name = ?1");
  query.bind(1, name);
  if (!query.step()) return std::nullopt;
  RunRecord run;
  run.id = query.integer(0);
  run.name = query.text(1);
  run.config = nlohmann::json::parse(query.text(2));
  run.code_version = query.text(3);
  run.seed = query.integer(4);
  run.status = query.text(5);
  run.created_at = query.text(6);
  run.model = {query.text(7), query.text(8), query.text(9), query.integer(10), query.integer(11)};
  run.dataset = {query.text(12), query.text(13), query.integer(14), query.integer(15)};
  return run;
}

std::optional<RunRecord> ResultsStore::find_run_by_id(int64_t run_id) {
  Statement query(database_, "SELECT name FROM runs WHERE id = ?1");
  query.bind(1, run_id);
  if (!query.step()) return std::nullopt;
  return find_run(query.text(0));
}

std::vector<RunRecord> ResultsStore::runs() {
  std::vector<std::string> names;
  Statement query(database_, "SELECT name FROM runs ORDER BY id");
  while (query.step()) names.push_back(query.text(0));
  std::vector<RunRecord> result;
  for (const auto& name : names) result.push_back(*find_run(name));
  return result;
}

RunRecord ResultsStore::open_run(const std::string& name, const ModelRecord& model, const DatasetRecord& dataset,
                                 const nlohmann::json& config, const std::string& code_version, int64_t seed) {
  const std::string where = database_.path().string() + ": run '" + name + "'";
  if (auto existing = find_run(name)) {
    if (existing->model.content_hash != model.content_hash)
      fail(where, " scored model ", existing->model.path, " (hash ", existing->model.content_hash, "), not ",
           model.path, " (hash ", model.content_hash, "); pass another --run or --db");
    if (existing->dataset.content_hash != dataset.content_hash)
      fail(where, " used data '", existing->dataset.spec, "' (hash ", existing->dataset.content_hash, "), not '",
           dataset.spec, "' (hash ", dataset.content_hash, "); pass another --run or --db");
    // A key the run lacks was added to runs' identity after it started: nothing to compare.
    for (const auto& [key, value] : config.items())
      if (existing->config.contains(key) && existing->config[key] != value)
        fail(where, " was started with ", key, "=", existing->config[key].dump(), ", not ", value.dump(),
             "; pass another --run or --db");
    if (existing->seed != seed)
      fail(where, " was started with seed ", existing->seed, ", not ", seed, "; pass another --run or --db");
    return *existing;
  }
  Transaction transaction(database_);
  const int64_t model_id = find_or_add_model(database_, model);
  const int64_t dataset_id =
      insert_or_find(database_, "SELECT id FROM datasets WHERE content_hash = ?1", dataset.content_hash, [&] {
        Statement insert(database_,
                         "INSERT INTO datasets (spec, content_hash, samples, tokens) VALUES (?1, ?2, ?3, ?4)");
        insert.bind(1, dataset.spec).bind(2, dataset.content_hash).bind(3, dataset.samples).bind(4, dataset.tokens);
        insert.run();
      });
  Statement insert(
      database_,
      "INSERT INTO runs (name, model_id, dataset_id, config, code_version, seed) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  insert.bind(1, name).bind(2, model_id).bind(3, dataset_id).bind(4, config.dump()).bind(5, code_version).bind(6, seed);
  insert.run();
  transaction.commit();
  return *find_run(name);
}

void ResultsStore::set_run_status(int64_t run_id, const std::string& status) {
  Statement update(database_,
                   "UPDATE runs SET status = ?1, updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = ?2");
  update.bind(1, status).bind(2, run_id);
  update.run();
}

void ResultsStore::ensure_probes(int64_t run_id, const std::vector<ProbeKey>& keys, const nlohmann::json& config) {
  Transaction transaction(database_);
  Statement find(database_,
                 "SELECT config FROM probes WHERE run_id = ?1 AND kind = ?2 AND variant = ?3 AND layer = ?4");
  Statement insert(database_, "INSERT INTO probes (run_id, kind, variant, layer, config) VALUES (?1, ?2, ?3, ?4, ?5)");
  const std::string wanted = config.dump();
  for (const auto& key : keys) {
    find.bind(1, run_id).bind(2, key.kind).bind(3, key.variant).bind(4, key.layer);
    if (find.step()) {
      const std::string existing = find.text(0);
      if (existing != wanted)
        fail(database_.path().string(), ": probe ", key.kind, key.variant.empty() ? "" : "/" + key.variant, " layer ",
             key.layer, " was run with settings ", existing, ", not ", wanted, "; pass another --run or --db");
    } else {
      insert.bind(1, run_id).bind(2, key.kind).bind(3, key.variant).bind(4, key.layer).bind(5, wanted);
      insert.run();
    }
    find.reset();
  }
  transaction.commit();
}

std::vector<ClaimedProbe> ResultsStore::claim_probes(int64_t run_id, const std::string& kind,
                                                     const std::string& variant, const std::vector<int64_t>& layers,
                                                     const std::string& worker, double heartbeat_timeout_s,
                                                     std::size_t limit) {
  Transaction transaction(database_);
  Statement candidates(
      database_,
      "SELECT id, layer, status, worker, heartbeat FROM probes "
      "WHERE run_id = ?1 AND kind = ?2 AND variant = ?3 AND status IN ('pending', 'running') ORDER BY layer");
  candidates.bind(1, run_id).bind(2, kind).bind(3, variant);
  const double now = now_seconds();
  std::vector<ClaimedProbe> claimed;
  while (claimed.size() < limit && candidates.step()) {
    const int64_t layer = candidates.integer(1);
    if (!layers.empty() && std::find(layers.begin(), layers.end(), layer) == layers.end()) continue;
    if (candidates.text(2) == "running") {
      const std::string owner = candidates.text(3);
      const bool stale = now - candidates.real(4) > heartbeat_timeout_s;
      if (owner != worker && !stale && !worker_is_dead_here(owner)) continue;
    }
    claimed.push_back({candidates.integer(0), {kind, variant, layer}});
  }
  Statement take(database_, "UPDATE probes SET status = 'running', worker = ?1, heartbeat = ?2 WHERE id = ?3");
  for (const auto& probe : claimed) {
    take.bind(1, worker).bind(2, now).bind(3, probe.id);
    take.run();
  }
  transaction.commit();
  return claimed;
}

void ResultsStore::heartbeat(const std::vector<int64_t>& probe_ids, const std::string& worker) {
  Transaction transaction(database_);
  Statement beat(database_, "UPDATE probes SET heartbeat = ?1 WHERE id = ?2 AND worker = ?3 AND status = 'running'");
  for (const int64_t id : probe_ids) {
    beat.bind(1, now_seconds()).bind(2, id).bind(3, worker);
    beat.run();
  }
  transaction.commit();
}

std::map<std::string, std::vector<std::pair<int64_t, double>>> ResultsStore::probe_samples(int64_t probe_id) {
  Statement query(database_,
                  "SELECT metric, sample, value FROM probe_samples WHERE probe_id = ?1 ORDER BY metric, sample");
  query.bind(1, probe_id);
  std::map<std::string, std::vector<std::pair<int64_t, double>>> result;
  while (query.step()) result[query.text(0)].emplace_back(query.integer(1), query.real(2));
  return result;
}

void ResultsStore::record_samples(const std::vector<SampleBatch>& batches, const std::map<int64_t, double>& seconds,
                                  const std::string& worker) {
  Transaction transaction(database_);
  Statement insert(database_,
                   "INSERT OR REPLACE INTO probe_samples (probe_id, metric, sample, value) VALUES (?1, ?2, ?3, ?4)");
  for (const auto& batch : batches)
    for (std::size_t i = 0; i < batch.values.size(); ++i) {
      insert.bind(1, batch.probe_id)
          .bind(2, batch.metric)
          .bind(3, batch.first_sample + int64_t(i))
          .bind(4, batch.values[i]);
      insert.run();
    }
  Statement add_time(database_,
                     "UPDATE probes SET seconds = seconds + ?1, heartbeat = ?2 WHERE id = ?3 AND worker = ?4");
  for (const auto& [probe_id, spent] : seconds) {
    add_time.bind(1, spent).bind(2, now_seconds()).bind(3, probe_id).bind(4, worker);
    add_time.run();
  }
  transaction.commit();
}

void ResultsStore::finish_probe(int64_t probe_id, const Finished& finished) {
  Transaction transaction(database_);
  Statement metric(database_,
                   "INSERT OR REPLACE INTO probe_metrics (probe_id, metric, value, ci_low, ci_high, samples) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  for (const auto& [name, summary] : finished.metrics) {
    metric.bind(1, probe_id)
        .bind(2, name)
        .bind(3, summary.value)
        .bind(4, summary.ci_low)
        .bind(5, summary.ci_high)
        .bind(6, summary.samples);
    metric.run();
  }
  Statement curve(database_, "INSERT OR REPLACE INTO probe_curves (probe_id, step, loss) VALUES (?1, ?2, ?3)");
  for (std::size_t step = 0; step < finished.curve.size(); ++step) {
    curve.bind(1, probe_id).bind(2, int64_t(step)).bind(3, finished.curve[step]);
    curve.run();
  }
  Statement done(
      database_,
      "UPDATE probes SET status = 'done', samples = ?1, seconds = seconds + ?2, device = ?3, "
      "peak_memory_bytes = ?4, error = NULL, finished_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = ?5");
  done.bind(1, finished.samples)
      .bind(2, finished.seconds)
      .bind(3, finished.device)
      .bind(4, finished.peak_memory_bytes)
      .bind(5, probe_id);
  done.run();
  transaction.commit();
}

void ResultsStore::fail_probe(int64_t probe_id, const std::string& error) {
  Statement update(database_, "UPDATE probes SET status = 'failed', error = ?1 WHERE id = ?2");
  update.bind(1, error).bind(2, probe_id);
  update.run();
}

void ResultsStore::release_probes(const std::vector<int64_t>& probe_ids, const std::string& worker) {
  Transaction transaction(database_);
  Statement release(
      database_,
      "UPDATE probes SET status = 'pending', worker = NULL, heartbeat = NULL WHERE id = ?1 AND worker = ?2 "
      "AND status = 'running'");
  for (const int64_t id : probe_ids) {
    release.bind(1, id).bind(2, worker);
    release.run();
  }
  transaction.commit();
}

std::vector<ProbeResult> ResultsStore::probe_results(int64_t run_id, const std::string& kind) {
  Statement query(database_,
                  "SELECT id, kind, variant, layer, status, seconds, peak_memory_bytes, COALESCE(device, ''), "
                  "COALESCE(finished_at, ''), COALESCE(error, '') FROM probes "
                  "WHERE run_id = ?1 AND (?2 = '' OR kind = ?2) ORDER BY kind, variant, layer");
  query.bind(1, run_id).bind(2, kind);
  std::vector<ProbeResult> results;
  while (query.step())
    results.push_back({query.integer(0),
                       {query.text(1), query.text(2), query.integer(3)},
                       query.text(4),
                       query.real(5),
                       query.optional_integer(6),
                       query.text(7),
                       {},
                       query.text(8),
                       query.text(9)});
  Statement metrics(database_, "SELECT metric, value, ci_low, ci_high, samples FROM probe_metrics WHERE probe_id = ?1");
  for (auto& result : results) {
    metrics.bind(1, result.id);
    while (metrics.step())
      result.metrics[metrics.text(0)] = {metrics.real(1), metrics.optional_real(2), metrics.optional_real(3),
                                         metrics.integer(4)};
    metrics.reset();
  }
  return results;
}

std::map<int64_t, std::vector<double>> ResultsStore::layer_samples(int64_t run_id, const std::string& kind,
                                                                   const std::string& variant,
                                                                   const std::string& metric) {
  Statement query(database_,
                  "SELECT p.layer, s.value FROM probes p JOIN probe_samples s ON s.probe_id = p.id "
                  "WHERE p.run_id = ?1 AND p.kind = ?2 AND p.variant = ?3 AND p.status = 'done' AND s.metric = ?4 "
                  "ORDER BY p.layer, s.sample");
  query.bind(1, run_id).bind(2, kind).bind(3, variant).bind(4, metric);
  std::map<int64_t, std::vector<double>> result;
  while (query.step()) result[query.integer(0)].push_back(query.real(1));
  return result;
}

int64_t ResultsStore::save_plan(const PlanRecord& plan) {
  Transaction transaction(database_);
  Statement insert_plan(database_, "INSERT INTO plans (run_id, strategy, layer_order, config) VALUES (?1, ?2, ?3, ?4)");
  insert_plan.bind(1, plan.run_id)
      .bind(2, plan.strategy)
      .bind(3, nlohmann::json(plan.layer_order).dump())
      .bind(4, plan.config.dump());
  insert_plan.run();
  const int64_t plan_id = database_.last_insert_id();
  Statement insert_stage(database_,
                         "INSERT INTO stages (plan_id, position, parent_stage_id, mamba_layers, new_layers, layout, "
                         "token_budget, rescore) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  std::map<int64_t, int64_t> stage_ids;  // position -> id
  for (const auto& stage : plan.stages) {
    std::optional<int64_t> parent;
    if (stage.parent_position) parent = stage_ids.at(*stage.parent_position);
    insert_stage.bind(1, plan_id)
        .bind(2, stage.position)
        .bind(3, parent)
        .bind(4, stage.mamba_layers)
        .bind(5, nlohmann::json(stage.new_layers).dump())
        .bind(6, stage.layout)
        .bind(7, stage.token_budget)
        .bind(8, int64_t(stage.rescore));
    insert_stage.run();
    stage_ids[stage.position] = database_.last_insert_id();
  }
  Statement insert_target(database_,
                          "INSERT INTO plan_targets (plan_id, mamba_layers, stage_id, layout, quality_metric, "
                          "predicted_quality, predicted_quality_low, predicted_quality_high, predicted_tokens_per_s, "
                          "predicted_speedup, memory_per_sequence_bytes, max_batch) "
                          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
  for (const auto& target : plan.targets) {
    const auto& quality = target.predicted_quality;
    insert_target.bind(1, plan_id)
        .bind(2, target.mamba_layers)
        .bind(3, stage_ids.at(target.stage_position))
        .bind(4, target.layout)
        .bind(5, target.quality_metric)
        .bind(6, quality ? std::optional<double>(quality->value) : std::nullopt)
        .bind(7, quality ? quality->ci_low : std::nullopt)
        .bind(8, quality ? quality->ci_high : std::nullopt)
        .bind(9, target.predicted_tokens_per_s)
        .bind(10, target.predicted_speedup)
        .bind(11, target.memory_per_sequence)
        .bind(12, target.max_batch);
    insert_target.run();
  }
  transaction.commit();
  return plan_id;
}

std::vector<PlanRecord> ResultsStore::plans(int64_t run_id) { return read_plans("run_id", run_id); }

PlanRecord ResultsStore::find_plan(int64_t plan_id) {
  auto found = read_plans("id", plan_id);
  if (found.empty()) fail(database_.path().string(), ": no plan ", plan_id, "; `hybridize plan --db ...` makes plans");
  return std::move(found.front());
}

void ResultsStore::update_stage(int64_t stage_id, const std::string& status, const std::string& checkpoint,
                                const nlohmann::json& metrics) {
  Statement update(database_, "UPDATE stages SET status = ?1, checkpoint = ?2, metrics = ?3 WHERE id = ?4");
  update.bind(1, status).bind(2, checkpoint).bind(3, metrics.dump()).bind(4, stage_id);
  update.run();
}

void ResultsStore::update_stage_layout(int64_t stage_id, const std::string& layout,
                                       const std::vector<int64_t>& new_layers) {
  Transaction transaction(database_);
  // A target reached by this stage now has its layers; a quality predicted for
  // other layers no longer applies to it.
  Statement target(database_,
                   "UPDATE plan_targets SET predicted_quality = NULL, predicted_quality_low = NULL, "
                   "predicted_quality_high = NULL, layout = ?1 WHERE stage_id = ?2 AND layout != ?1");
  target.bind(1, layout).bind(2, stage_id);
  target.run();
  Statement update(database_, "UPDATE stages SET layout = ?1, new_layers = ?2, rescore = 0 WHERE id = ?3");
  update.bind(1, layout).bind(2, nlohmann::json(new_layers).dump()).bind(3, stage_id);
  update.run();
  transaction.commit();
}

nlohmann::json ResultsStore::stage_metrics(int64_t stage_id) {
  Statement query(database_, "SELECT metrics FROM stages WHERE id = ?1");
  query.bind(1, stage_id);
  if (!query.step() || query.is_null(0)) return nlohmann::json::object();
  return nlohmann::json::parse(query.text(0));
}

std::vector<PlanRecord> ResultsStore::read_plans(const char* column, int64_t value) {
  std::vector<PlanRecord> plans;
  Statement query(database_,
                  std::string("SELECT id, run_id, strategy, layer_order, config, created_at FROM plans WHERE ") +
                      column + " = ?1 ORDER BY id");
  query.bind(1, value);
  while (query.step()) {
    PlanRecord plan;
    plan.id = query.integer(0);
    plan.run_id = query.integer(1);
    plan.strategy = query.text(2);
    plan.layer_order = nlohmann::json::parse(query.text(3)).get<std::vector<int64_t>>();
    plan.config = nlohmann::json::parse(query.text(4));
    plan.created_at = query.text(5);
    plans.push_back(std::move(plan));
  }
  Statement stages(
      database_,
      "SELECT s.id, s.position, p.position, s.mamba_layers, s.new_layers, s.layout, s.token_budget, "
      "s.rescore, s.status, COALESCE(s.checkpoint, '') FROM stages s LEFT JOIN stages p ON p.id = s.parent_stage_id "
      "WHERE s.plan_id = ?1 ORDER BY s.position");
  Statement targets(database_,
                    "SELECT t.mamba_layers, s.position, t.layout, t.quality_metric, t.predicted_quality, "
                    "t.predicted_quality_low, t.predicted_quality_high, t.predicted_tokens_per_s, t.predicted_speedup, "
                    "t.memory_per_sequence_bytes, t.max_batch FROM plan_targets t JOIN stages s ON s.id = t.stage_id "
                    "WHERE t.plan_id = ?1 ORDER BY t.mamba_layers");
  for (auto& plan : plans) {
    stages.bind(1, plan.id);
    while (stages.step())
      plan.stages.push_back({stages.integer(0), stages.integer(1), stages.optional_integer(2), stages.integer(3),
                             nlohmann::json::parse(stages.text(4)).get<std::vector<int64_t>>(), stages.text(5),
                             stages.integer(6), stages.integer(7) != 0, stages.text(8), stages.text(9)});
    stages.reset();
    targets.bind(1, plan.id);
    while (targets.step()) {
      PlanTargetRecord target{targets.integer(0), targets.integer(1), targets.text(2),
                              targets.text(3),    std::nullopt,       targets.real(7),
                              targets.real(8),    targets.integer(9), targets.integer(10)};
      if (!targets.is_null(4))
        target.predicted_quality =
            MetricSummary{targets.real(4), targets.optional_real(5), targets.optional_real(6), 0};
      plan.targets.push_back(std::move(target));
    }
    targets.reset();
  }
  return plans;
}

std::vector<double> ResultsStore::probe_curve(int64_t probe_id) {
  Statement query(database_, "SELECT loss FROM probe_curves WHERE probe_id = ?1 ORDER BY step");
  query.bind(1, probe_id);
  std::vector<double> losses;
  while (query.step()) losses.push_back(query.real(0));
  return losses;
}

int64_t ResultsStore::model_id(const ModelRecord& model) {
  Transaction transaction(database_);
  const int64_t id = find_or_add_model(database_, model);
  transaction.commit();
  return id;
}

int64_t ResultsStore::save_benchmark(const BenchmarkRecord& benchmark) {
  Transaction transaction(database_);
  const int64_t model_id = find_or_add_model(database_, benchmark.model);
  Statement insert(database_,
                   "INSERT INTO benchmarks (model_id, layout, device, dtype, prompt_length, generation_length, batch, "
                   "prefill_tokens_per_s, decode_tokens_per_s, total_tokens_per_s, memory_per_sequence_bytes, "
                   "ratio_to_teacher) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
  insert.bind(1, model_id)
      .bind(2, benchmark.layout)
      .bind(3, benchmark.device)
      .bind(4, benchmark.dtype)
      .bind(5, benchmark.prompt_length)
      .bind(6, benchmark.generation_length)
      .bind(7, benchmark.batch)
      .bind(8, benchmark.prefill_tokens_per_s)
      .bind(9, benchmark.decode_tokens_per_s)
      .bind(10, benchmark.total_tokens_per_s)
      .bind(11, benchmark.memory_per_sequence)
      .bind(12, benchmark.ratio_to_teacher);
  insert.run();
  const int64_t id = database_.last_insert_id();
  transaction.commit();
  return id;
}

std::vector<BenchmarkRecord> ResultsStore::benchmarks(const std::string& model_hash) {
  Statement query(
      database_,
      "SELECT b.id, m.path, m.content_hash, m.architecture, m.num_layers, m.parameters, b.layout, b.device, "
      "b.dtype, b.prompt_length, b.generation_length, b.batch, b.prefill_tokens_per_s, "
      "b.decode_tokens_per_s, b.total_tokens_per_s, b.memory_per_sequence_bytes, b.ratio_to_teacher, "
      "b.created_at FROM benchmarks b JOIN models m ON m.id = b.model_id WHERE m.content_hash = ?1 "
      "ORDER BY b.id");
  query.bind(1, model_hash);
  std::vector<BenchmarkRecord> rows;
  while (query.step())
    rows.push_back({query.integer(0),
                    {query.text(1), query.text(2), query.text(3), query.integer(4), query.integer(5)},
                    query.text(6),
                    query.text(7),
                    query.text(8),
                    query.integer(9),
                    query.integer(10),
                    query.integer(11),
                    query.optional_real(12),
                    query.optional_real(13),
                    query.optional_real(14),
                    query.optional_integer(15),
                    query.optional_real(16),
                    query.text(17)});
  return rows;
}

int64_t ResultsStore::save_hardware_rates(const HardwareRatesRecord& rates) {
  Statement insert(database_,
                   "INSERT INTO hardware_rates (device, dtype, bytes_per_second, flops_per_second, memory_bytes) "
                   "VALUES (?1, ?2, ?3, ?4, ?5)");
  insert.bind(1, rates.device)
      .bind(2, rates.dtype)
      .bind(3, rates.bytes_per_second)
      .bind(4, rates.flops_per_second)
      .bind(5, rates.memory_bytes);
  insert.run();
  return database_.last_insert_id();
}

std::optional<HardwareRatesRecord> ResultsStore::latest_hardware_rates() {
  Statement query(database_,
                  "SELECT id, device, dtype, bytes_per_second, flops_per_second, memory_bytes, created_at "
                  "FROM hardware_rates ORDER BY id DESC LIMIT 1");
  if (!query.step()) return std::nullopt;
  return HardwareRatesRecord{query.integer(0), query.text(1),    query.text(2), query.real(3),
                             query.real(4),    query.integer(5), query.text(6)};
}

}  // namespace hybridize::store
