#pragma once
// `hybridize score`: runs one scorer over the layers of a teacher, resumably,
// with every per-sample value and every probe's summary in the results store.
// Work is claimed probe by probe, so several processes can share one store and
// a run that was killed continues where it stopped. In a job of several ranks
// (torchrun/Slurm) the ranks share the work: LOO and proxy batches, MMR probes
// each to one rank; results travel to rank 0, which alone writes the store.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "dist/process_group.h"

#include "search/loo_scorer.h"
#include "search/mmr_probe.h"
#include "store/results_store.h"
#include "train/sequence_set.h"

namespace hybridize::search {

enum class Scorer { Loo, Proxy, Mmr };
Scorer parse_scorer(const std::string& name);
const char* scorer_name(Scorer scorer);

struct ScoreOptions {
  Scorer scorer = Scorer::Loo;
  std::filesystem::path model_dir;
  data::SequenceSpec data;
  std::filesystem::path database;
  std::string run_name = "default";
  std::vector<int64_t> layers;  // empty: every layer
  int64_t batch_size = 16;
  std::string device = "cpu";
  std::string dtype = "fp32";
  LooOptions loo;
  MmrOptions mmr;
  int64_t mmr_train_samples = 256;  // training samples of each MMR probe (train split, or after the held-out ones)
  int bootstrap_resamples = 1000;
  double heartbeat_timeout_s = 120;
  bool quiet = false;                               // no progress lines
  std::shared_ptr<const dist::ProcessGroup> group;  // several ranks share the work; null: one process
};

struct ScoredLayer {
  int64_t layer = 0;
  std::string status;
  std::map<std::string, store::MetricSummary> metrics;
  double seconds = 0;
};

struct ScoreSummary {
  store::RunRecord run;
  std::string kind, variant;
  std::string primary_metric;       // what the ranking sorts by, least important first
  std::string counted;              // which predictions the scores count (train::SequenceSet::counted)
  std::vector<ScoredLayer> layers;  // in layer order
  std::map<std::string, store::MetricSummary> teacher;  // the unablated baseline, when measured
  LayerForwardCount forwards;                           // spent by this process (by all ranks of a job)
  int64_t layers_computed = 0;                          // probes this process (job) finished
};

// Every rank of a job calls it; rank 0's summary alone holds the results.
ScoreSummary run_scoring(const ScoreOptions& options);

// Layers ordered by the primary metric, least important (most replaceable) first.
std::vector<ScoredLayer> ranked(const ScoreSummary& summary);

}  // namespace hybridize::search
