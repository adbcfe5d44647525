#pragma once
// The config file of `hybridize run` (TOML): one table per pipeline step.
// Every key is documented in configs/README.md; unknown keys and wrong types
// are refused with the file, the key and the valid keys of its table.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace hybridize::cli {

struct RunConfig {
  std::filesystem::path file;  // the config itself; relative paths inside it are relative to its folder

  // [run]
  std::string name = "demo";
  std::filesystem::path db;  // default: <out>/results.db
  std::filesystem::path out = "hybridize-out";
  uint64_t seed = 20251103;
  // [model]
  std::filesystem::path model;
  std::string device = "cpu";
  std::string dtype = "fp32";
  // [data]
  std::string data = "synthetic";
  int64_t eval_samples = 128;
  int64_t train_samples = 2048;
  int64_t seq_len = 512;
  bool ignore_loss_spans = false;  // count every token of a corpus with loss spans
  // [score]
  std::vector<std::string> scorers{"loo", "proxy", "mmr"};
  int64_t score_batch = 32;
  int64_t mmr_steps = 100;
  int64_t mmr_train_samples = 256;
  double mmr_lr = 1e-3;
  int64_t mmr_warmup = 10;
  // [plan]
  std::vector<int64_t> targets;
  std::vector<std::string> strategies{"paper", "uniform", "random"};
  std::vector<int64_t> keep;
  int64_t max_per_stage = 0;
  // [distill]
  int64_t distill_steps = 200;
  int64_t distill_batch = 16;
  int64_t distill_accumulation = 1;
  bool activation_checkpointing = false;
  double distill_lr = 1e-3;
  int64_t distill_warmup = 20;
  std::string train = "mixers";
  std::string loss = "kl";  // kl, ce or kl+ce
  double ce_weight = 1.0;
  bool compare_forward_kl = true;  // distil the first strategy's plan once more with forward KL
  // [eval]
  std::vector<std::filesystem::path> eval_tasks;  // benchmark task files; none: no benchmark evaluation
  int64_t eval_task_samples = 1;                  // generations a problem
  double eval_temperature = 0;
  int64_t eval_max_new_tokens = 2048;
  double gate_max_drop = 0;        // pass@1 points below the teacher that stop a plan (0: no gate)
  bool gate_below_parent = false;  // a stage below its parent beyond noise stops its plan
  // [bench]
  int64_t prompt_len = 64;
  int64_t gen_len = 64;
  int64_t bench_batch = 8;
  // [report]
  std::filesystem::path report;  // default: <out>/report.html
};

// Reads and validates every key that needs no teacher (the rest is checked by
// `run` before any work); throws Error "<file>: ..." naming the key.
RunConfig read_run_config(const std::filesystem::path& file);

}  // namespace hybridize::cli
