#include "store/schema.h"

#include <array>
#include <string>

#include "core/error.h"

namespace hybridize::store {

namespace {

// migrations[v] takes a database from version v to v + 1. Append only: a
// released migration never changes.
constexpr std::array<const char*, kSchemaVersion> kMigrations = {
    // 0 -> 1: provenance, scoring probes, plans with their stages and targets, benchmarks.
    R"sql(
CREATE TABLE models (
  id INTEGER PRIMARY KEY,
  path TEXT NOT NULL,
  content_hash TEXT NOT NULL UNIQUE,
  architecture TEXT NOT NULL,
  num_layers INTEGER NOT NULL,
  parameters INTEGER NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')));
CREATE TABLE datasets (
  id INTEGER PRIMARY KEY,
  spec TEXT NOT NULL,
  content_hash TEXT NOT NULL UNIQUE,
  samples INTEGER NOT NULL,
  tokens INTEGER NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')));
CREATE TABLE runs (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  model_id INTEGER NOT NULL REFERENCES models(id),
  dataset_id INTEGER NOT NULL REFERENCES datasets(id),
  config TEXT NOT NULL,
  code_version TEXT NOT NULL,
  seed INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'running',
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')));
CREATE TABLE probes (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id),
  kind TEXT NOT NULL,
  variant TEXT NOT NULL DEFAULT '',
  layer INTEGER NOT NULL,
  config TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'done', 'failed')),
  worker TEXT,
  heartbeat REAL,
  seconds REAL NOT NULL DEFAULT 0,
  samples INTEGER NOT NULL DEFAULT 0,
  device TEXT,
  peak_memory_bytes INTEGER,
  error TEXT,
  finished_at TEXT,
  UNIQUE (run_id, kind, variant, layer));
CREATE TABLE probe_samples (
  probe_id INTEGER NOT NULL REFERENCES probes(id) ON DELETE CASCADE,
  metric TEXT NOT NULL,
  sample INTEGER NOT NULL,
  value REAL NOT NULL,
  PRIMARY KEY (probe_id, metric, sample)) WITHOUT ROWID;
CREATE TABLE probe_metrics (
  probe_id INTEGER NOT NULL REFERENCES probes(id) ON DELETE CASCADE,
  metric TEXT NOT NULL,
  value REAL NOT NULL,
  ci_low REAL,
  ci_high REAL,
  samples INTEGER NOT NULL,
  PRIMARY KEY (probe_id, metric)) WITHOUT ROWID;
CREATE TABLE probe_curves (
  probe_id INTEGER NOT NULL REFERENCES probes(id) ON DELETE CASCADE,
  step INTEGER NOT NULL,
  loss REAL NOT NULL,
  PRIMARY KEY (probe_id, step)) WITHOUT ROWID;
CREATE TABLE plans (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id),
  strategy TEXT NOT NULL,
  layer_order TEXT NOT NULL,
  config TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')));
CREATE TABLE stages (
  id INTEGER PRIMARY KEY,
  plan_id INTEGER NOT NULL REFERENCES plans(id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  parent_stage_id INTEGER REFERENCES stages(id),
  mamba_layers INTEGER NOT NULL,
  new_layers TEXT NOT NULL,
  layout TEXT NOT NULL,
  token_budget INTEGER NOT NULL,
  rescore INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL DEFAULT 'pending',
  checkpoint TEXT,
  metrics TEXT,
  UNIQUE (plan_id, position));
CREATE TABLE plan_targets (
  plan_id INTEGER NOT NULL REFERENCES plans(id) ON DELETE CASCADE,
  mamba_layers INTEGER NOT NULL,
  stage_id INTEGER NOT NULL REFERENCES stages(id),
  layout TEXT NOT NULL,
  quality_metric TEXT NOT NULL,
  predicted_quality REAL,
  predicted_quality_low REAL,
  predicted_quality_high REAL,
  predicted_tokens_per_s REAL,
  predicted_speedup REAL,
  memory_per_sequence_bytes INTEGER,
  max_batch INTEGER,
  PRIMARY KEY (plan_id, mamba_layers)) WITHOUT ROWID;
CREATE TABLE benchmarks (
  id INTEGER PRIMARY KEY,
  model_id INTEGER REFERENCES models(id),
  layout TEXT NOT NULL,
  device TEXT NOT NULL,
  dtype TEXT NOT NULL,
  prompt_length INTEGER NOT NULL,
  generation_length INTEGER NOT NULL,
  batch INTEGER NOT NULL,
  prefill_tokens_per_s REAL,
  decode_tokens_per_s REAL,
  total_tokens_per_s REAL,
  memory_per_sequence_bytes INTEGER,
  ratio_to_teacher REAL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')));
)sql",
    // 1 -> 2: a device's measured bandwidth and matmul FLOP rate, which calibrate the planner's throughput model.
    R"sql(
CREATE TABLE hardware_rates (
  id INTEGER PRIMARY KEY,
  device TEXT NOT NULL,
  dtype TEXT NOT NULL,
  bytes_per_second REAL NOT NULL,
  flops_per_second REAL NOT NULL,
  memory_bytes INTEGER NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')));
)sql",
    // 2 -> 3: benchmark evaluations (hybridize eval): task files, one evaluation per model, task and
    // generation settings (a stage's, where a plan's stage was evaluated), and each judged generation.
    R"sql(
CREATE TABLE eval_tasks (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  path TEXT NOT NULL,
  content_hash TEXT NOT NULL UNIQUE,
  problems INTEGER NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')));
CREATE TABLE evaluations (
  id INTEGER PRIMARY KEY,
  model_id INTEGER NOT NULL REFERENCES models(id),
  task_id INTEGER NOT NULL REFERENCES eval_tasks(id),
  settings TEXT NOT NULL,
  settings_hash TEXT NOT NULL,
  code_version TEXT NOT NULL,
  stage_id INTEGER REFERENCES stages(id) ON DELETE SET NULL,
  status TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done')),
  seconds REAL NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
  UNIQUE (model_id, task_id, settings_hash));
CREATE TABLE eval_samples (
  evaluation_id INTEGER NOT NULL REFERENCES evaluations(id) ON DELETE CASCADE,
  problem INTEGER NOT NULL,
  sample INTEGER NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome IN ('correct', 'wrong', 'no_answer')),
  truncated INTEGER NOT NULL,
  tokens INTEGER NOT NULL,
  extracted TEXT NOT NULL,
  completion TEXT NOT NULL,
  PRIMARY KEY (evaluation_id, problem, sample)) WITHOUT ROWID;
)sql",
};

int user_version(Database& database) {
  Statement query(database, "PRAGMA user_version");
  query.step();
  return int(query.integer(0));
}

}  // namespace

int known_schema_version(Database& database) {
  const int found = user_version(database);
  if (found > kSchemaVersion)
    fail(database.path().string(), ": results database has schema version ", found, " but this hybridize knows up to ",
         kSchemaVersion, "; use a newer hybridize");
  return found;
}

void migrate(Database& database) {
  const int found = known_schema_version(database);
  for (int version = found; version < kSchemaVersion; ++version) {
    Transaction transaction(database);
    if (user_version(database) != version) continue;  // another process migrated meanwhile
    database.execute(kMigrations[version]);
    database.execute("PRAGMA user_version = " + std::to_string(version + 1));
    transaction.commit();
  }
}

}  // namespace hybridize::store
