#pragma once
// Runs a stored plan as staged distillation jobs: each stage starts from its
// parent stage's student (the teacher for the first), MIL-initialises the
// layers it replaces, distils from the teacher, is evaluated on held-out data
// and written as an Apriel-H checkpoint. Stage status, model directory and
// results go into the store; a finished stage is never redone, and an
// interrupted one resumes from its last training checkpoint. With benchmark
// tasks, the teacher and every stage are evaluated on them (infer/evaluation.h)
// and a quality gate may stop the plan's later stages. Data-parallel: every
// rank of the job calls execute_plan with the same options.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "data/eval_tasks.h"
#include "infer/evaluation.h"
#include "search/mmr_probe.h"
#include "search/quality_gate.h"
#include "train/distillation.h"
#include "train/sequence_set.h"

namespace hybridize::search {

struct ExecuteOptions {
  std::filesystem::path database;
  int64_t plan_id = 0;
  std::vector<int64_t> stages;      // positions to run (their ancestors run first); empty: all
  std::filesystem::path out_dir;    // OUT/plan-<id>/stage-<position>/{model,checkpoints}
  std::filesystem::path model_dir;  // overrides the run's model path
  std::string device = "cpu";
  std::string dtype = "fp32";     // the teacher's precision; students train in fp32
  data::SequenceSpec train_data;  // synthetic: the train split
  data::SequenceSpec eval_data;   // synthetic: the validation split
  train::DistillationSettings settings;
  // The MMR probes that re-rank a stage of the paper's schedule on its parent
  // student before it trains (search/stage_rescoring.h).
  MmrOptions rescore;
  int64_t checkpoint_every = 50;
  bool checkpoint_activations = false;  // see train::TrainingRun
  int64_t eval_batch = 32;
  int bootstrap_resamples = 1000;
  bool quiet = false;
  std::optional<int64_t> stop_after;  // end the first stage run early (as if interrupted) after this step
  // Several ranks distil each stage together; rank 0 alone evaluates and
  // writes models, checkpoints and the store.
  train::DataParallel parallel;
  // Benchmark tasks the teacher and each distilled stage are evaluated on
  // (none: no benchmark evaluation), with the tokenizer of the teacher. In a
  // job of several ranks they are left to `hybridize eval`: the other ranks
  // would wait on rank 0's generation past their collectives' timeout.
  std::vector<data::EvalTask> eval_tasks;
  infer::EvalSettings eval_settings;
  QualityGate gate;  // needs eval_tasks and a single process
};

struct StageOutcome {
  int64_t position = 0;
  std::string layout;
  std::string status;  // "done" (now or before), "stopped" by stop_after, or "skipped" by the quality gate
  nlohmann::json metrics;
};

std::vector<StageOutcome> execute_plan(const ExecuteOptions& options);

}  // namespace hybridize::search
