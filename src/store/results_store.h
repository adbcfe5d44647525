#pragma once
// Typed access to the results database (schema.h): the provenance of a run
// (model, dataset, config, code version, seed) and its probes. Probes are
// claimed by workers that keep a heartbeat; a claim whose worker died is taken
// over, so an interrupted run resumes where it stopped.
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "store/database.h"

namespace hybridize::store {

struct ModelRecord {
  std::string path;
  std::string content_hash;
  std::string architecture;
  int64_t num_layers = 0;
  int64_t parameters = 0;
};

struct DatasetRecord {
  std::string spec;
  std::string content_hash;
  int64_t samples = 0;
  int64_t tokens = 0;
};

struct RunRecord {
  int64_t id = 0;
  std::string name;
  ModelRecord model;
  DatasetRecord dataset;
  nlohmann::json config;
  std::string code_version;
  int64_t seed = 0;
  std::string status;
  std::string created_at;
};

// What identifies one probe within a run.
struct ProbeKey {
  std::string kind;     // "loo", "mmr", "proxy", ...
  std::string variant;  // e.g. "mixer" or "block" for LOO
  int64_t layer = 0;
};

struct ClaimedProbe {
  int64_t id = 0;
  ProbeKey key;
};

struct MetricSummary {
  double value = 0;
  std::optional<double> ci_low, ci_high;
  int64_t samples = 0;
};

struct ProbeResult {
  int64_t id = 0;
  ProbeKey key;
  std::string status;
  double seconds = 0;
  std::optional<int64_t> peak_memory_bytes;
  std::string device;
  std::map<std::string, MetricSummary> metrics;
  std::string finished_at;  // empty until done
  std::string error;        // why a failed probe failed
};

// A replacement plan (search/planner.h) as stored: the layer order, the
// stages (each from its parent's checkpoint, position 0 from the teacher) and
// the predictions for each target count of Mamba layers.
struct StageRecord {
  int64_t id = 0;
  int64_t position = 0;
  std::optional<int64_t> parent_position;  // none: starts from the teacher
  int64_t mamba_layers = 0;
  std::vector<int64_t> new_layers;
  std::string layout;
  int64_t token_budget = 0;
  bool rescore = false;  // re-rank the remaining layers with MMR probes on this stage's student first
  std::string status = "pending";
  std::string checkpoint;  // the stage's model directory once distilled
};

struct PlanTargetRecord {
  int64_t mamba_layers = 0;
  int64_t stage_position = 0;
  std::string layout;
  std::string quality_metric;
  std::optional<MetricSummary> predicted_quality;
  double predicted_tokens_per_s = 0;
  double predicted_speedup = 0;
  int64_t memory_per_sequence = 0;
  int64_t max_batch = 0;
};

struct PlanRecord {
  int64_t id = 0;
  int64_t run_id = 0;
  std::string strategy;
  std::vector<int64_t> layer_order;
  nlohmann::json config;
  std::vector<StageRecord> stages;
  std::vector<PlanTargetRecord> targets;
  std::string created_at;
};

// One measured generation benchmark (`hybridize bench`) of a model under a
// layout: the teacher (all attention) or a hybrid.
struct BenchmarkRecord {
  int64_t id = 0;
  ModelRecord model;
  std::string layout;
  std::string device;
  std::string dtype;
  int64_t prompt_length = 0;
  int64_t generation_length = 0;
  int64_t batch = 0;
  std::optional<double> prefill_tokens_per_s, decode_tokens_per_s, total_tokens_per_s;
  std::optional<int64_t> memory_per_sequence;
  std::optional<double> ratio_to_teacher;
  std::string created_at;
};

// A device's rates as `hybridize bench` measured them: copy bandwidth (bytes
// read plus written per second) and the FLOP rate of a large matmul in `dtype`.
struct HardwareRatesRecord {
  int64_t id = 0;
  std::string device;  // the card's name
  std::string dtype;
  double bytes_per_second = 0, flops_per_second = 0;
  int64_t memory_bytes = 0;  // the device's total memory
  std::string created_at;
};

// A worker's name: host:pid, so claims of a dead process on this host are
// recognised at once (others wait for their heartbeat to expire).
std::string this_worker();

class ResultsStore {
 public:
  // ReadWrite: opens or creates the database and migrates it to the current
  // schema. ReadOnly (reports): opens an existing one without writing, also on
  // read-only media; one at an older schema is migrated first where it can be.
  explicit ResultsStore(const std::filesystem::path& path, Access access = Access::ReadWrite);

  const std::filesystem::path& path() const { return database_.path(); }

  // Finds run `name`, or creates it from these records. An existing run with
  // another model hash, dataset hash or config is refused with a message that
  // names what differs (results of different inputs never mix under one run).
  RunRecord open_run(const std::string& name, const ModelRecord& model, const DatasetRecord& dataset,
                     const nlohmann::json& config, const std::string& code_version, int64_t seed);
  std::optional<RunRecord> find_run(const std::string& name);
  std::optional<RunRecord> find_run_by_id(int64_t run_id);
  std::vector<RunRecord> runs();
  void set_run_status(int64_t run_id, const std::string& status);

  // Adds the probes that do not exist yet, pending. An existing probe whose
  // settings differ from `config` is refused, naming the probe.
  void ensure_probes(int64_t run_id, const std::vector<ProbeKey>& keys, const nlohmann::json& config);

  // Claims up to `limit` probes of `kind` among `layers` (all when empty) that
  // are pending, or running under a worker that is dead or silent for more
  // than `heartbeat_timeout_s`. Ordered by layer.
  std::vector<ClaimedProbe> claim_probes(int64_t run_id, const std::string& kind, const std::string& variant,
                                         const std::vector<int64_t>& layers, const std::string& worker,
                                         double heartbeat_timeout_s, std::size_t limit);
  void heartbeat(const std::vector<int64_t>& probe_ids, const std::string& worker);

  // Per-sample values already recorded for a probe (resume), by metric.
  std::map<std::string, std::vector<std::pair<int64_t, double>>> probe_samples(int64_t probe_id);

  struct SampleBatch {
    int64_t probe_id;
    std::string metric;
    int64_t first_sample;
    std::vector<double> values;
  };
  // Records per-sample values of several probes and adds `seconds` to each
  // probe's time, in one transaction.
  void record_samples(const std::vector<SampleBatch>& batches, const std::map<int64_t, double>& seconds,
                      const std::string& worker);

  struct Finished {
    std::map<std::string, MetricSummary> metrics;
    std::vector<double> curve;  // loss per step (MMR), may be empty
    int64_t samples = 0;
    double seconds = 0;  // added to the probe's recorded time
    std::string device;
    std::optional<int64_t> peak_memory_bytes;
  };
  // Marks a probe done with its summary metrics, in one transaction.
  void finish_probe(int64_t probe_id, const Finished& finished);
  void fail_probe(int64_t probe_id, const std::string& error);
  // Gives claimed probes back (pending) when a worker stops early.
  void release_probes(const std::vector<int64_t>& probe_ids, const std::string& worker);

  std::vector<ProbeResult> probe_results(int64_t run_id, const std::string& kind = "");
  // Per-sample values of `metric` of the finished probes of kind/variant, by layer.
  std::map<int64_t, std::vector<double>> layer_samples(int64_t run_id, const std::string& kind,
                                                       const std::string& variant, const std::string& metric);

  // Writes a plan with its stages and targets in one transaction; returns its id.
  int64_t save_plan(const PlanRecord& plan);
  std::vector<PlanRecord> plans(int64_t run_id);
  // Throws Error naming the store when there is no plan `plan_id`.
  PlanRecord find_plan(int64_t plan_id);
  // A stage's progress: status ("running", "done", "failed"), its model
  // directory, and its results as JSON.
  // A stage re-ranked before it trains: its new layers and layout replace the
  // plan's provisional ones and its re-rank request is marked done, so a
  // resumed run trains the same layout instead of ranking again. A plan target
  // at this stage takes the layout, and loses its predicted quality if the
  // layers changed.
  void update_stage_layout(int64_t stage_id, const std::string& layout, const std::vector<int64_t>& new_layers);
  void update_stage(int64_t stage_id, const std::string& status, const std::string& checkpoint,
                    const nlohmann::json& metrics);
  nlohmann::json stage_metrics(int64_t stage_id);

  // The loss per step of a probe's training (MMR), empty when it has none.
  std::vector<double> probe_curve(int64_t probe_id);

  // The id of the model with this content hash, added when it is new.
  int64_t model_id(const ModelRecord& model);

  // Adds a benchmark row (its model is found by content hash, or added); returns its id.
  int64_t save_benchmark(const BenchmarkRecord& benchmark);
  // The benchmarks of the model with this content hash, oldest first.
  std::vector<BenchmarkRecord> benchmarks(const std::string& model_hash);
  // Adds a measurement of a device's rates; returns its id.
  int64_t save_hardware_rates(const HardwareRatesRecord& rates);
  // The newest measurement, if any.
  std::optional<HardwareRatesRecord> latest_hardware_rates();

  Database& database() { return database_; }

 private:
  std::vector<PlanRecord> read_plans(const char* column, int64_t value);

  Database database_;
};

}  // namespace hybridize::store
