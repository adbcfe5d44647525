#include "search/score_driver.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/spelling.h"
#include "core/version.h"
#include "model/device.h"
#include "model/frozen_teacher.h"
#include "model/mil.h"
#include "model/weights.h"
#include "search/provenance.h"
#include "search/proxy_scorer.h"
#include "store/bootstrap.h"
#include "store/heartbeat.h"

namespace hybridize::search {

namespace {

using Clock = std::chrono::steady_clock;
const store::ProbeKey kTeacherKey{"teacher", "", -1};

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

std::vector<int64_t> chosen_layers(const std::vector<int64_t>& asked, int64_t num_layers) {
  if (asked.empty()) {
    std::vector<int64_t> all(static_cast<std::size_t>(num_layers));
    for (int64_t i = 0; i < num_layers; ++i) all[std::size_t(i)] = i;
    return all;
  }
  for (const int64_t layer : asked)
    if (layer < 0 || layer >= num_layers)
      fail("--layers: layer ", layer, " is outside the model's ", num_layers, " layers");
  auto sorted = asked;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  return sorted;
}

// Which samples each claimed probe already has (a resumed run skips them).
struct ProbeProgress {
  store::ClaimedProbe probe;
  std::vector<bool> recorded;
  bool needs(int64_t begin, int64_t end) const {
    for (int64_t i = begin; i < end; ++i)
      if (!recorded[std::size_t(i)]) return true;
    return false;
  }
};

}  // namespace

namespace {
constexpr Spelling<Scorer> kScorers[] = {{Scorer::Loo, "loo"}, {Scorer::Mmr, "mmr"}, {Scorer::Proxy, "proxy"}};
}  // namespace

Scorer parse_scorer(const std::string& name) { return parse_spelling(kScorers, name, "score"); }

const char* scorer_name(Scorer scorer) { return spelling_of(kScorers, scorer); }

namespace {

// What every scorer of one invocation shares.
struct Session {
  const ScoreOptions& options;
  at::Device device;
  model::CausalLM teacher;
  train::SequenceSet data;
  std::optional<store::ResultsStore> results;  // rank 0's alone: the others never open the store
  std::string worker = store::this_worker();
  ScoreSummary summary;
  std::vector<int64_t> held;  // probes this process claimed: given back if scoring fails

  // Claims up to `limit` probes of `kind` (all layers when `layers` is empty) for this worker.
  std::vector<store::ClaimedProbe> claim(const std::string& kind, const std::string& variant,
                                         const std::vector<int64_t>& layers, std::size_t limit) {
    auto claimed =
        results->claim_probes(summary.run.id, kind, variant, layers, worker, options.heartbeat_timeout_s, limit);
    for (const auto& probe : claimed) held.push_back(probe.id);
    return claimed;
  }

  const dist::ProcessGroup* group() const {
    return options.group && options.group->size() > 1 ? options.group.get() : nullptr;
  }
  bool leader() const { return !group() || group()->is_leader(); }
  int rank() const { return group() ? group()->rank() : 0; }
  int ranks() const { return group() ? group()->size() : 1; }
};

// How a job shares out work: item `index` falls to rank index % ranks, which
// computes it; rank 0 records every item in turn, its own or the one the rank
// that computed it posts under `key` (as text from `encode`, read back by
// `decode`). A lone process computes and records each item.
template <class Result, class Compute, class Record>
void share_item(const Session& session, int64_t index, const std::string& key, Compute&& compute,
                std::string (*encode)(const Result&), Result (*decode)(const std::string&), Record&& record) {
  const bool mine = index % session.ranks() == session.rank();
  if (!mine) {
    if (session.leader()) record(decode(session.group()->fetch(key)));
    return;
  }
  const Result result = compute();
  if (session.leader())
    record(result);
  else
    session.group()->post(key, encode(result));
}

// A batch's scores and the seconds they took.
struct TimedScores {
  BatchScores scores;
  double seconds = 0;
};

// Batch scores (or an MMR probe's result) as exact text for rank 0: JSON keeps
// doubles to the last bit, so a job stores what one process would.
std::string encode_scores(const TimedScores& timed) {
  return nlohmann::json{{"scores", timed.scores}, {"seconds", timed.seconds}}.dump();
}
TimedScores decode_scores(const std::string& text) {
  const auto json = nlohmann::json::parse(text);
  return {json.at("scores").get<BatchScores>(), json.at("seconds").get<double>()};
}

std::chrono::seconds heartbeat_interval(const ScoreOptions& options) {
  return std::chrono::seconds(std::max<int64_t>(1, int64_t(options.heartbeat_timeout_s / 4)));
}

// Summarises every metric of a probe from all of its stored per-sample values.
std::map<std::string, store::MetricSummary> summarize_samples(Session& session, const store::ClaimedProbe& probe,
                                                              int64_t samples) {
  const store::BootstrapOptions bootstrap{session.options.bootstrap_resamples, 0.95,
                                          uint64_t(session.options.data.seed)};
  std::map<std::string, store::MetricSummary> metrics;
  for (const auto& [metric, values] : session.results->probe_samples(probe.id)) {
    std::vector<double> plain;
    for (const auto& [sample, value] : values)
      if (sample < samples) plain.push_back(value);
    if (int64_t(plain.size()) != samples)
      fail(session.options.database.string(), ": probe ", probe.key.kind, " layer ", probe.key.layer, " has ",
           plain.size(), " of ", samples, " samples of '", metric, "' after scoring");
    metrics[metric] = store::bootstrap_mean(plain, bootstrap);
  }
  return metrics;
}

// A NaN would be stored as NULL and summarised as nonsense: refuse it, naming where it arose.
void require_finite(const store::ProbeKey& key, const std::string& metric, const std::vector<double>& values,
                    int64_t first_sample, const char* unit = "sample") {
  for (std::size_t i = 0; i < values.size(); ++i)
    if (!std::isfinite(values[i]))
      fail(key.layer < 0 ? key.kind : key.kind + " probe of layer " + std::to_string(key.layer), ": '", metric, "' of ",
           unit, " ", first_sample + int64_t(i), " is ", values[i],
           "; the model's outputs are not finite (overflow in this precision? try --dtype fp32)");
}

// Commits one batch's per-sample values of its probes.
void record_batch(Session& session, const std::vector<const ProbeProgress*>& batch_probes, const BatchScores& scores,
                  double spent, int64_t begin) {
  std::vector<store::ResultsStore::SampleBatch> rows;
  std::map<int64_t, double> seconds;
  for (const auto* entry : batch_probes) {
    for (const auto& [metric, values] : scores.at(entry->probe.key.layer)) {
      require_finite(entry->probe.key, metric, values, begin);
      rows.push_back({entry->probe.id, metric, begin, values});
    }
    seconds[entry->probe.id] = spent / double(batch_probes.size());
  }
  session.results->record_samples(rows, seconds, session.worker);
}

// LOO and proxies: batch by batch, all claimed layers at once (they share the
// teacher's pass); every batch's per-sample values are committed as they come,
// so a killed run loses at most the batch in flight.
void score_batchwise(Session& session, const std::vector<store::ClaimedProbe>& claimed) {
  const auto& options = session.options;
  const auto& data = session.data;
  auto& summary = session.summary;
  const int64_t samples = data.size();
  std::vector<ProbeProgress> progress;
  std::vector<int64_t> claimed_ids;
  for (const auto& probe : claimed) {
    ProbeProgress entry{probe, std::vector<bool>(std::size_t(samples), false)};
    const auto recorded = session.results->probe_samples(probe.id);
    if (!recorded.empty())
      for (const auto& [sample, value] : recorded.begin()->second)
        if (sample < samples) entry.recorded[std::size_t(sample)] = true;
    progress.push_back(std::move(entry));
    claimed_ids.push_back(probe.id);
  }
  if (const auto* group = session.group()) {
    // Rank 0 claimed the probes; every rank learns their layers and the samples they still need.
    std::vector<int64_t> layers, recorded;
    for (const auto& entry : progress) {
      layers.push_back(entry.probe.key.layer);
      recorded.insert(recorded.end(), entry.recorded.begin(), entry.recorded.end());
    }
    layers = group->broadcast_values(std::move(layers), 0);
    recorded = group->broadcast_values(std::move(recorded), 0);
    if (!session.leader())
      for (std::size_t k = 0; k < layers.size(); ++k)
        progress.push_back({{-1, {summary.kind, summary.variant, layers[k]}},
                            std::vector<bool>(recorded.begin() + std::ptrdiff_t(k) * samples,
                                              recorded.begin() + std::ptrdiff_t(k + 1) * samples)});
  }
  std::optional<store::HeartbeatThread> heartbeat;
  if (session.leader()) heartbeat.emplace(options.database, session.worker, claimed_ids, heartbeat_interval(options));
  const int64_t batches = (samples + options.batch_size - 1) / options.batch_size;
  ProgressReporter reporter(summary.kind, 0, batches, ProgressReporter::stderr_is_terminal());
  int64_t pending_batches = 0;  // batches with work so far: the job deals them out in turn
  for (int64_t batch = 0; batch < batches; ++batch) {
    const int64_t begin = batch * options.batch_size, end = std::min(samples, begin + options.batch_size);
    std::vector<int64_t> batch_layers;
    std::vector<const ProbeProgress*> batch_probes;
    for (const auto& entry : progress)
      if (entry.needs(begin, end)) {
        batch_probes.push_back(&entry);
        if (entry.probe.key.layer >= 0) batch_layers.push_back(entry.probe.key.layer);
      }
    if (batch_probes.empty()) continue;
    auto compute = [&] {
      const auto batch_started = Clock::now();
      const auto tensors = data.batch(begin, end, session.device);
      std::optional<infer::TaskAnswers> task;
      if (!data.answers.empty()) task = infer::task_answers(data.prompts, data.answers, data.loss_mask, begin, end);
      TimedScores timed;
      timed.scores = options.scorer == Scorer::Loo
                         ? score_loo_batch(*session.teacher, tensors.input_ids, tensors.targets, tensors.loss_mask,
                                           batch_layers, options.loo, summary.forwards, task ? &*task : nullptr)
                         : score_proxy_batch(*session.teacher, tensors.input_ids, tensors.loss_mask, batch_layers);
      timed.seconds = seconds_since(batch_started);
      return timed;
    };
    auto record = [&](const TimedScores& timed) {
      record_batch(session, batch_probes, timed.scores, timed.seconds, begin);
      if (!options.quiet) reporter.update(batch + 1, std::to_string(batch_layers.size()) + " layers");
    };
    share_item(session, pending_batches++, "scores/" + summary.kind + "/" + std::to_string(batch), compute,
               encode_scores, decode_scores, record);
  }
  if (!options.quiet) reporter.finish();
  if (const auto* group = session.group()) {
    auto counts = at::tensor({summary.forwards.spent, summary.forwards.naive}, at::kLong).to(group->device());
    group->all_reduce_sum(counts);
    const auto host = counts.cpu();
    summary.forwards = {host[0].item<int64_t>(), host[1].item<int64_t>()};
  }
  if (!session.leader()) return;
  for (const auto& entry : progress) {
    store::ResultsStore::Finished finished;
    finished.metrics = summarize_samples(session, entry.probe, samples);
    finished.samples = samples;
    finished.device = options.device;
    finished.peak_memory_bytes = model::peak_memory_bytes(session.device);
    session.results->finish_probe(entry.probe.id, finished);
    if (entry.probe.key.layer >= 0) ++summary.layers_computed;
  }
}

// Commits a finished MMR probe: its per-sample values, summaries and loss
// curve. Returns its final training loss (the mean of the last 10 steps).
double finish_mmr_probe(Session& session, const store::ClaimedProbe& probe, const MmrProbeResult& result,
                        double seconds, std::optional<int64_t> peak_memory) {
  const auto& options = session.options;
  std::vector<store::ResultsStore::SampleBatch> rows;
  for (const auto& [metric, values] : result.held_out) {
    require_finite(probe.key, metric, values, 0);
    rows.push_back({probe.id, metric, 0, values});
  }
  require_finite(probe.key, "training loss", result.curve, 0, "step");
  session.results->record_samples(rows, {}, session.worker);
  store::ResultsStore::Finished finished;
  finished.metrics = summarize_samples(session, probe, session.data.size());
  const std::size_t tail = std::min<std::size_t>(10, result.curve.size());
  double final_loss = 0;
  for (std::size_t i = result.curve.size() - tail; i < result.curve.size(); ++i) final_loss += result.curve[i];
  finished.metrics["final_train_loss"] = {final_loss / double(tail), std::nullopt, std::nullopt, int64_t(tail)};
  finished.curve = result.curve;
  finished.samples = session.data.size();
  finished.seconds = seconds;
  finished.device = options.device;
  finished.peak_memory_bytes = peak_memory;
  session.results->finish_probe(probe.id, finished);
  ++session.summary.layers_computed;
  return finished.metrics["final_train_loss"].value;
}

struct TimedMmrResult {
  MmrProbeResult result;
  double seconds = 0;
  std::optional<int64_t> peak_memory;
};

TimedMmrResult run_timed_mmr_probe(Session& session, int64_t layer, const train::SequenceSet& train_set) {
  const auto started = Clock::now();
  model::reset_peak_memory(session.device);
  auto mmr = session.options.mmr;
  mmr.seed = session.options.data.seed;
  auto result = run_mmr_probe(*session.teacher, layer, train_set, session.data, mmr);
  return {std::move(result), seconds_since(started), model::peak_memory_bytes(session.device)};
}

std::string encode_mmr(const TimedMmrResult& timed) {
  nlohmann::json json = {
      {"curve", timed.result.curve}, {"held_out", timed.result.held_out}, {"seconds", timed.seconds}};
  if (timed.peak_memory) json["peak_memory"] = *timed.peak_memory;
  return json.dump();
}
TimedMmrResult decode_mmr(const std::string& text) {
  const auto json = nlohmann::json::parse(text);
  TimedMmrResult timed{{json.at("curve").get<std::vector<double>>(), json.at("held_out").get<SampleValues>()},
                       json.at("seconds").get<double>(),
                       std::nullopt};
  if (json.contains("peak_memory")) timed.peak_memory = json["peak_memory"].get<int64_t>();
  return timed;
}

void report_probe(ProgressReporter& reporter, int64_t done, int64_t layer, double final_loss) {
  reporter.update(done, "layer " + std::to_string(layer) + " loss " + std::to_string(final_loss));
}

// MMR: one probe at a time on each rank (each trains its own mixer). A lone
// process claims probes one by one, so that several workers sharing a store
// split the layers; in a job rank 0 claims every pending probe at once and the
// ranks take them in turn. Rank 0 commits each probe as its result arrives; a
// killed probe restarts from scratch.
void score_mmr(Session& session, const std::vector<int64_t>& layers, const train::SequenceSet& train_set) {
  const auto& options = session.options;
  auto& summary = session.summary;
  const bool terminal = ProgressReporter::stderr_is_terminal();
  std::optional<ProgressReporter> reporter;
  if (!session.group()) reporter.emplace("mmr", 0, int64_t(layers.size()), terminal);
  int64_t done = 0;
  for (;;) {
    std::vector<store::ClaimedProbe> claimed;
    std::vector<int64_t> todo, claimed_ids;
    if (session.leader()) {
      claimed = session.claim(summary.kind, summary.variant, layers, session.group() ? SIZE_MAX : 1);
      for (const auto& probe : claimed) {
        todo.push_back(probe.key.layer);
        claimed_ids.push_back(probe.id);
      }
    }
    if (const auto* group = session.group()) todo = group->broadcast_values(std::move(todo), 0);
    if (!reporter) reporter.emplace("mmr", 0, int64_t(todo.size()), terminal);  // a job: the probes claimed
    if (todo.empty()) break;
    std::optional<store::HeartbeatThread> heartbeat;
    if (session.leader()) heartbeat.emplace(options.database, session.worker, claimed_ids, heartbeat_interval(options));
    for (std::size_t k = 0; k < todo.size(); ++k)
      share_item(
          session, int64_t(k), "mmr/" + std::to_string(todo[k]),
          [&] { return run_timed_mmr_probe(session, todo[k], train_set); }, encode_mmr, decode_mmr,
          [&](const TimedMmrResult& timed) {
            const double final_loss =
                finish_mmr_probe(session, claimed[k], timed.result, timed.seconds, timed.peak_memory);
            if (!options.quiet) report_probe(*reporter, ++done, todo[k], final_loss);
          });
    if (session.group()) break;  // a job claims every pending probe at once
  }
  if (!options.quiet && session.leader()) reporter->finish();
}

nlohmann::json probe_config(const ScoreOptions& options, const train::SequenceSet* train_set) {
  nlohmann::json config = {{"bootstrap_resamples", options.bootstrap_resamples}};
  if (options.scorer == Scorer::Mmr) {
    const auto& mmr = options.mmr;
    config.update({{"steps", mmr.steps},
                   {"batch_size", mmr.batch_size},
                   {"learning_rate", mmr.learning_rate},
                   {"warmup_steps", mmr.warmup_steps},
                   {"divergence", train::divergence_key(mmr.divergence)},
                   {"d_state", mmr.d_state},
                   {"train_data", train_set->spec},
                   {"train_data_hash", train_set->content_hash}});
  }
  return config;
}

// Claims and scores `layers` by the session's scorer.
void score_layers(Session& session, const std::vector<int64_t>& layers, const train::SequenceSet* train_set,
                  const nlohmann::json& config) {
  if (session.options.scorer == Scorer::Mmr) return score_mmr(session, layers, *train_set);
  std::vector<store::ClaimedProbe> claimed;
  if (session.leader()) {
    claimed = session.claim(session.summary.kind, session.summary.variant, layers, SIZE_MAX);
    if (session.options.scorer == Scorer::Loo) {
      session.results->ensure_probes(session.summary.run.id, {kTeacherKey}, config);
      const auto baseline = session.claim(kTeacherKey.kind, kTeacherKey.variant, {}, 1);
      claimed.insert(claimed.end(), baseline.begin(), baseline.end());
    }
  }
  if (!claimed.empty() || session.group()) score_batchwise(session, claimed);  // in a job every rank takes part
}

}  // namespace

ScoreSummary run_scoring(const ScoreOptions& options) {
  if (options.batch_size <= 0) fail("--batch-size must be positive, got ", options.batch_size);
  auto frozen = model::load_frozen_teacher(options.model_dir, options.device, options.dtype);
  auto& teacher = frozen.model;
  const at::Device device = frozen.load.device;
  auto data = train::load_sequences(options.data, teacher->config.vocab_size);
  Session session{options, device, teacher, std::move(data), std::nullopt, store::this_worker(), {}, {}};
  const auto layers = chosen_layers(options.layers, teacher->config.num_layers);
  if (options.scorer == Scorer::Mmr) {  // before any probe is claimed
    options.mmr.validate();
    model::mil_ssm_config(teacher->config, options.mmr.d_state);
  }

  auto& summary = session.summary;
  if (session.leader()) {
    session.results.emplace(options.database);
    const store::DatasetRecord dataset_record{session.data.spec, session.data.content_hash, session.data.size(),
                                              session.data.counted_tokens()};
    summary.run =
        session.results->open_run(options.run_name, describe_model(options.model_dir, *teacher), dataset_record,
                                  {{"dtype", options.dtype}, {"device", c10::DeviceTypeName(device.type(), true)}},
                                  std::string(code_version()), int64_t(options.data.seed));
  }
  summary.counted = session.data.counted;
  summary.kind = scorer_name(options.scorer);
  summary.variant = options.scorer == Scorer::Loo ? ablation_name(options.loo.ablation) : "";
  summary.primary_metric = options.scorer == Scorer::Loo     ? "kl"
                           : options.scorer == Scorer::Proxy ? "block_influence"
                                                             : "distill_loss";
  std::optional<train::SequenceSet> train_set;
  if (options.scorer == Scorer::Mmr) {
    auto spec = options.data;
    spec.samples = options.mmr_train_samples;
    if (spec.source == "synthetic")
      spec.split = "train";
    else
      spec.offset = options.data.offset + options.data.samples;  // the corpus samples after the held-out ones
    train_set = train::load_sequences(spec, teacher->config.vocab_size);
  }
  const auto config = probe_config(options, train_set ? &*train_set : nullptr);

  std::vector<store::ProbeKey> keys;
  for (const int64_t layer : layers) keys.push_back({summary.kind, summary.variant, layer});
  if (session.leader()) session.results->ensure_probes(summary.run.id, keys, config);
  try {
    score_layers(session, layers, train_set ? &*train_set : nullptr, config);
  } catch (...) {
    // Give back what this process holds, so a rerun takes it at once instead of after the heartbeat timeout.
    if (session.results) {
      try {
        session.results->release_probes(session.held, session.worker);
      } catch (...) {  // the first error is the one to report
      }
    }
    throw;
  }
  if (!session.leader()) return summary;  // rank 0 holds the results

  for (const auto& result : session.results->probe_results(summary.run.id)) {
    if (result.key.kind == kTeacherKey.kind && options.scorer == Scorer::Loo) summary.teacher = result.metrics;
    if (result.key.kind != summary.kind || result.key.variant != summary.variant) continue;
    if (!std::binary_search(layers.begin(), layers.end(), result.key.layer)) continue;
    summary.layers.push_back({result.key.layer, result.status, result.metrics, result.seconds});
  }
  return summary;
}

std::vector<ScoredLayer> ranked(const ScoreSummary& summary) {
  std::vector<ScoredLayer> order;
  for (const auto& layer : summary.layers)
    if (layer.metrics.count(summary.primary_metric)) order.push_back(layer);
  std::stable_sort(order.begin(), order.end(), [&](const ScoredLayer& a, const ScoredLayer& b) {
    return a.metrics.at(summary.primary_metric).value < b.metrics.at(summary.primary_metric).value;
  });
  return order;
}

}  // namespace hybridize::search
