// The results store: schema versions, run provenance checks, probe claims by
// workers with heartbeats, and transactional writes.
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include "catch.h"
#include "store/evaluations.h"
#include "store/results_store.h"
#include "store/schema.h"
#include "temp_dir.h"

using namespace hybridize;
using hybridize::testing::TempDir;
using hybridize::testing::write_text;

namespace {
const store::ModelRecord kModel{"/models/a", "hash-a", "LlamaForCausalLM", 4, 1000};
const store::DatasetRecord kData{"synthetic:validation:8", "data-hash", 8, 400};

std::vector<store::ProbeKey> loo_keys(int64_t layers) {
  std::vector<store::ProbeKey> keys;
  for (int64_t layer = 0; layer < layers; ++layer) keys.push_back({"loo", "mixer", layer});
  return keys;
}

int user_version(const std::filesystem::path& path) {
  store::Database database(path);
  store::Statement query(database, "PRAGMA user_version");
  query.step();
  return int(query.integer(0));
}
}  // namespace

TEST_CASE("a new store is migrated to the current schema and keeps its rows when reopened", "[store]") {
  TempDir dir;
  const auto path = dir / "results.db";
  {
    store::ResultsStore results(path);
    results.open_run("r", kModel, kData, {{"dtype", "fp32"}}, "test", 7);
  }
  CHECK(user_version(path) == store::kSchemaVersion);
  store::ResultsStore reopened(path);
  const auto run = reopened.find_run("r");
  REQUIRE(run);
  CHECK(run->model.content_hash == "hash-a");
  CHECK(run->dataset.tokens == 400);
  CHECK(run->config["dtype"] == "fp32");
  CHECK(run->seed == 7);
}

TEST_CASE("the store refuses files it cannot trust, naming them", "[store]") {
  TempDir dir;
  SECTION("a database from a newer hybridize") {
    const auto path = dir / "newer.db";
    {
      store::Database database(path);
      database.execute("PRAGMA user_version = 99");
    }
    REQUIRE_ERROR(store::ResultsStore(path), "newer.db: results database has schema version 99");
  }
  SECTION("a file that is not SQLite") {
    const auto path = dir / "notes.db";
    write_text(path, std::string(4096, 'x'));
    REQUIRE_ERROR(store::ResultsStore(path), "notes.db");
  }
}

TEST_CASE("a run refuses results of another model, data set, config or seed", "[store]") {
  TempDir dir;
  store::ResultsStore results(dir / "results.db");
  const auto first = results.open_run("r", kModel, kData, {{"dtype", "fp32"}}, "test", 7);
  CHECK(results.open_run("r", kModel, kData, {{"dtype", "fp32"}}, "test", 7).id == first.id);

  auto other_model = kModel;
  other_model.content_hash = "hash-b";
  REQUIRE_ERROR(results.open_run("r", other_model, kData, {{"dtype", "fp32"}}, "test", 7), "hash-a");
  auto other_data = kData;
  other_data.content_hash = "other-data";
  REQUIRE_ERROR(results.open_run("r", kModel, other_data, {{"dtype", "fp32"}}, "test", 7), "used data");
  REQUIRE_ERROR(results.open_run("r", kModel, kData, {{"dtype", "bf16"}}, "test", 7), "dtype=\"fp32\"");
  REQUIRE_ERROR(results.open_run("r", kModel, kData, {{"dtype", "fp32"}}, "test", 8), "seed 7");
  // A setting added to runs' identity later has nothing to compare with in an older run; once recorded, it counts.
  const auto cuda = results.open_run("r", kModel, kData, {{"dtype", "fp32"}, {"device", "cuda"}}, "test", 7);
  CHECK(cuda.id == first.id);
  const auto recorded = results.open_run("t", kModel, kData, {{"dtype", "fp32"}, {"device", "cuda"}}, "test", 7);
  REQUIRE_ERROR(results.open_run("t", kModel, kData, {{"dtype", "fp32"}, {"device", "cpu"}}, "test", 7),
                "run 't' was started with device=\"cuda\", not \"cpu\"");
  CHECK(recorded.id != first.id);
  // Another run name in the same store is fine.
  CHECK(results.open_run("s", other_model, kData, {{"dtype", "bf16"}}, "test", 8).id != first.id);
}

TEST_CASE("probes are claimed once; a dead or silent worker's claims are taken over", "[store]") {
  TempDir dir;
  store::ResultsStore results(dir / "results.db");
  const auto run = results.open_run("r", kModel, kData, {}, "test", 7);
  results.ensure_probes(run.id, loo_keys(4), {{"steps", 1}});
  results.ensure_probes(run.id, loo_keys(4), {{"steps", 1}});  // idempotent
  REQUIRE_ERROR(results.ensure_probes(run.id, loo_keys(1), {{"steps", 2}}),
                "probe loo/mixer layer 0 was run with settings");

  const std::string alive = store::this_worker();
  const auto mine = results.claim_probes(run.id, "loo", "mixer", {0, 1}, alive, 60, 10);
  REQUIRE(mine.size() == 2);
  CHECK(mine[0].key.layer == 0);
  CHECK(mine[1].key.layer == 1);

  // A live worker on another host with a fresh heartbeat keeps its claims...
  const auto others = results.claim_probes(run.id, "loo", "mixer", {}, "elsewhere:1", 60, 10);
  REQUIRE(others.size() == 2);  // layers 2 and 3: 0 and 1 are held
  CHECK(others[0].key.layer == 2);
  CHECK(results.claim_probes(run.id, "loo", "mixer", {}, alive, 60, 10).size() == 2);  // its own two again
  // ...until it falls silent for longer than the timeout.
  const auto taken = results.claim_probes(run.id, "loo", "mixer", {2, 3}, alive, -1, 10);
  CHECK(taken.size() == 2);

  // A worker of this host whose process is gone loses its claims at once.
  results.release_probes({taken[0].id, taken[1].id}, alive);
  pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  int status = 0;
  ::waitpid(dead, &status, 0);
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  const std::string dead_worker = std::string(host) + ":" + std::to_string(dead);
  CHECK(results.claim_probes(run.id, "loo", "mixer", {2}, dead_worker, 60, 10).size() == 1);
  CHECK(results.claim_probes(run.id, "loo", "mixer", {2}, alive, 60, 10).size() == 1);      // its heartbeat is fresh
  CHECK(results.claim_probes(run.id, "loo", "mixer", {2}, "elsewhere:2", 60, 10).empty());  // now held by a live one

  // So does one killed but not yet reaped by its parent (a zombie, which kill(pid, 0) still finds).
  pid_t zombie = ::fork();
  if (zombie == 0) ::_exit(0);
  const std::string zombie_worker = std::string(host) + ":" + std::to_string(zombie);
  results.release_probes({taken[0].id, taken[1].id}, alive);
  REQUIRE(results.claim_probes(run.id, "loo", "mixer", {2}, zombie_worker, 60, 10).size() == 1);
  siginfo_t exited{};
  for (int wait = 0; wait < 500 && exited.si_pid == 0; ++wait) {  // until it has exited, without reaping it
    ::waitid(P_PID, id_t(zombie), &exited, WEXITED | WNOHANG | WNOWAIT);
    if (exited.si_pid == 0) ::usleep(10000);
  }
  REQUIRE(exited.si_pid == zombie);
  CHECK(results.claim_probes(run.id, "loo", "mixer", {2}, alive, 60, 10).size() == 1);
  ::waitpid(zombie, &status, 0);
}

TEST_CASE("a results store must be a file: in-memory, URI and special paths are refused", "[store][bad-input]") {
  TempDir dir;
  REQUIRE_ERROR(store::ResultsStore(""), "the results database needs a file path, got ''");
  REQUIRE_ERROR(store::ResultsStore(":memory:"), ":memory:: the results database must be a file path");
  REQUIRE_ERROR(store::ResultsStore("file:x?mode=memory"),
                "file:x?mode=memory: the results database must be a file path");
  REQUIRE_ERROR(store::ResultsStore(dir.path()), "not a regular file, so not a results database");
  CHECK_FALSE(std::filesystem::exists("file:x?mode=memory"));
}

TEST_CASE("a store opened read-only is read without being written", "[store]") {
  TempDir dir;
  const auto path = dir / "results.db";
  {
    store::ResultsStore results(path);
    results.open_run("r", kModel, kData, {}, "test", 7);
  }
  store::ResultsStore reader(path, store::Access::ReadOnly);
  REQUIRE(reader.runs().size() == 1);
  REQUIRE_ERROR(reader.set_run_status(reader.runs().front().id, "done"), "readonly database");

  SECTION("a store at an older schema is migrated first, where it can be written") {
    write_text(dir / "empty.db", "");
    CHECK(store::ResultsStore(dir / "empty.db", store::Access::ReadOnly).runs().empty());
    CHECK(user_version(dir / "empty.db") == store::kSchemaVersion);
  }
}

TEST_CASE("samples and summaries round-trip, and a finished probe is never claimed again", "[store]") {
  TempDir dir;
  store::ResultsStore results(dir / "results.db");
  const auto run = results.open_run("r", kModel, kData, {}, "test", 7);
  results.ensure_probes(run.id, loo_keys(2), {});
  const std::string worker = store::this_worker();
  const auto claimed = results.claim_probes(run.id, "loo", "mixer", {}, worker, 60, 10);
  REQUIRE(claimed.size() == 2);
  results.record_samples({{claimed[0].id, "kl", 0, {0.5, 0.25}}, {claimed[0].id, "kl", 2, {1.0}}},
                         {{claimed[0].id, 1.5}}, worker);
  const auto samples = results.probe_samples(claimed[0].id);
  REQUIRE(samples.at("kl").size() == 3);
  CHECK(samples.at("kl")[2] == std::pair<int64_t, double>{2, 1.0});

  store::ResultsStore::Finished finished;
  finished.metrics["kl"] = {0.583, 0.25, 1.0, 3};
  finished.curve = {2.0, 1.0};
  finished.samples = 3;
  finished.seconds = 0.5;
  finished.device = "cpu";
  results.finish_probe(claimed[0].id, finished);
  const auto rows = results.probe_results(run.id, "loo");
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].status == "done");
  CHECK(rows[0].seconds == Approx(2.0));
  CHECK(rows[0].metrics.at("kl").ci_high == 1.0);
  CHECK(rows[1].status == "running");
  const auto again = results.claim_probes(run.id, "loo", "mixer", {}, worker, -1, 10);
  REQUIRE(again.size() == 1);
  CHECK(again[0].key.layer == 1);
}

TEST_CASE("a transaction that is not committed leaves no trace", "[store]") {
  TempDir dir;
  store::Database database(dir / "t.db");
  database.execute("CREATE TABLE t (x INTEGER)");
  {
    store::Transaction transaction(database);
    database.execute("INSERT INTO t VALUES (1)");
  }
  store::Statement count(database, "SELECT COUNT(*) FROM t");
  count.step();
  CHECK(count.integer(0) == 0);
}

TEST_CASE("a re-ranked stage stores its layout once; a changed target loses its predicted quality", "[store]") {
  TempDir dir;
  store::ResultsStore results(dir / "results.db");
  store::PlanRecord plan;
  plan.run_id = results.open_run("r", kModel, kData, {}, "test", 7).id;
  plan.strategy = "paper";
  plan.layer_order = {2, 1, 0, 3};
  plan.stages = {{0, 0, std::nullopt, 1, {2}, "AAMA", 100, false, "pending", ""},
                 {0, 1, 0, 2, {1}, "AMMA", 100, true, "pending", ""},
                 {0, 2, 1, 3, {0}, "MMMA", 100, true, "pending", ""}};
  for (int64_t at = 1; at < 3; ++at)
    plan.targets.push_back({at + 1, at, plan.stages[std::size_t(at)].layout, "kl",
                            store::MetricSummary{0.5, 0.4, 0.6, 0}, 100.0, 1.5, 1024, 8});
  const int64_t id = results.save_plan(plan);
  const auto saved = results.find_plan(id);

  results.update_stage_layout(saved.stages[1].id, "AMMA", {1});  // confirmed: the prediction stands
  results.update_stage_layout(saved.stages[2].id, "AMMM", {3});  // changed
  const auto updated = results.find_plan(id);
  CHECK_FALSE(updated.stages[1].rescore);
  CHECK_FALSE(updated.stages[2].rescore);
  CHECK(updated.stages[2].layout == "AMMM");
  CHECK(updated.stages[2].new_layers == std::vector<int64_t>{3});
  REQUIRE(updated.targets.size() == 2);
  CHECK(updated.targets[0].predicted_quality.has_value());
  CHECK(updated.targets[1].layout == "AMMM");
  CHECK_FALSE(updated.targets[1].predicted_quality.has_value());
  CHECK(updated.targets[1].predicted_tokens_per_s == 100.0);  // throughput depends on the count alone
}

TEST_CASE("evaluations: one per model, task and settings; generations kept once; pass@1 over problems",
          "[store][eval]") {
  TempDir dir;
  store::ResultsStore results(dir / "results.db");
  store::EvaluationStore evaluations(results);
  const store::EvalTaskRecord task{"gsm8k", "/tasks/gsm8k.jsonl", "task-hash", 2};
  const nlohmann::json greedy = {{"samples", 1}, {"temperature", 0.0}};
  const auto first = evaluations.open(kModel, task, greedy, "v1", std::nullopt);
  CHECK(first.status == "running");
  CHECK_FALSE(first.stage_id);
  // The same model, task and settings: the same evaluation (of the code that started it).
  const auto again = evaluations.open(kModel, task, greedy, "v2", std::nullopt);
  CHECK(again.id == first.id);
  CHECK(again.code_version == "v1");
  CHECK(evaluations.open(kModel, task, {{"samples", 4}, {"temperature", 0.6}}, "v1", std::nullopt).id != first.id);

  // Problem 0: 2 of 4 generations right; problem 1: 4 of 4. pass@1 = (0.5 + 1) / 2.
  const auto sample = [](int64_t problem, int64_t i, const char* outcome) {
    return store::EvalSampleRecord{problem, i, outcome, std::string(outcome) == "no_answer", 30, "", "text"};
  };
  evaluations.record(first.id, {sample(0, 0, "correct"), sample(0, 1, "wrong"), sample(1, 0, "correct")}, 2.0);
  evaluations.record(first.id,
                     {sample(0, 1, "correct"), sample(0, 2, "correct"), sample(0, 3, "no_answer"),
                      sample(1, 1, "correct"), sample(1, 2, "correct"), sample(1, 3, "correct")},
                     3.0);
  CHECK(evaluations.done(first.id).size() == 8);  // (0, 1) was kept as first written
  const auto samples = evaluations.samples(first.id);
  CHECK(samples[1].outcome == "wrong");
  CHECK(evaluations.samples(first.id, false)[0].completion.empty());
  const auto summary = store::summarize_evaluation(samples);
  CHECK(summary.pass_at_1.value == Approx(0.75));
  CHECK(summary.problems == 2);
  CHECK(summary.generations == 8);
  CHECK((summary.correct == 6 && summary.wrong == 1 && summary.no_answer == 1 && summary.truncated == 1));
  CHECK(summary.pass_at_1.ci_low.value() <= 0.75);
  CHECK(summary.pass_at_1.ci_high.value() >= 0.75);
  evaluations.finish(first.id);
  const auto stored = evaluations.evaluations();
  REQUIRE(stored.size() == 2);
  CHECK(stored[0].status == "done");
  CHECK(stored[0].seconds == Approx(5.0));
  CHECK(stored[0].code_version == "v1");
  REQUIRE_ERROR(evaluations.open(kModel, task, greedy, "v1", 7), "FOREIGN KEY");  // no stage 7
  REQUIRE_ERROR(store::summarize_evaluation({}), "without judged generations");
}
