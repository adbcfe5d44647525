#include "cli/run_config.h"

#include <toml++/toml.h>
#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/mapped_file.h"
#include "search/planner.h"
#include "search/score_driver.h"
#include "train/distillation.h"

namespace hybridize::cli {

namespace {

class TableReader {
 public:
  TableReader(const toml::table& root, std::string name, std::set<std::string> keys, const std::string& file)
      : name_(std::move(name)), keys_(std::move(keys)), file_(file) {
    const auto* node = root.get(name_);
    if (node == nullptr) return;
    table_ = node->as_table();
    if (table_ == nullptr) fail(file_, ": [", name_, "] must be a table");
    for (const auto& [key, value] : *table_)
      if (!keys_.count(std::string(key.str()))) {
        std::string valid;
        for (const auto& known : keys_) valid += (valid.empty() ? "" : ", ") + known;
        fail(file_, ": unknown key '", name_, ".", key.str(), "'; valid keys of [", name_, "]: ", valid);
      }
  }

  template <class T>
  void read(const std::string& key, T& target) const {
    const toml::node* node = table_ ? table_->get(key) : nullptr;
    if (node == nullptr) return;
    if constexpr (std::is_same_v<T, std::vector<int64_t>> || std::is_same_v<T, std::vector<std::string>> ||
                  std::is_same_v<T, std::vector<std::filesystem::path>>) {
      // Paths are written as strings.
      using Element = std::conditional_t<std::is_same_v<typename T::value_type, std::filesystem::path>, std::string,
                                         typename T::value_type>;
      const auto* array = node->as_array();
      if (array == nullptr) wrong_type(key, "an array");
      target.clear();
      for (const auto& item : *array) {
        auto value = item.value<Element>();
        if (!value) wrong_type(key, "an array of one type");
        target.emplace_back(*value);
      }
    } else if constexpr (std::is_same_v<T, std::filesystem::path>) {
      auto value = node->value<std::string>();
      if (!value) wrong_type(key, "a string");
      target = *value;
    } else if constexpr (std::is_same_v<T, uint64_t>) {
      auto value = node->value<int64_t>();
      if (!value || *value < 0) wrong_type(key, "a non-negative integer");
      target = uint64_t(*value);
    } else if constexpr (std::is_same_v<T, bool>) {
      if (!node->is_boolean()) wrong_type(key, "true or false");  // value<bool>() takes 3 for true
      target = *node->value<bool>();
    } else {
      auto value = node->value<T>();
      if (!value) wrong_type(key, std::is_same_v<T, std::string> ? "a string" : "a number");
      target = *value;
    }
  }

 private:
  [[noreturn]] void wrong_type(const std::string& key, const char* expected) const {
    fail(file_, ": key '", name_, ".", key, "' must be ", expected);
  }

  std::string name_;
  std::set<std::string> keys_;
  const std::string& file_;
  const toml::table* table_ = nullptr;
};

void require_positive(const std::string& file, const char* key, int64_t value) {
  if (value <= 0) fail(file, ": key '", key, "' must be positive, got ", value);
}

void require_warmup(const std::string& file, const char* key, int64_t warmup, const char* steps_key, int64_t steps) {
  if (warmup < 0 || warmup > steps)
    fail(file, ": key '", key, "' must lie in [0, ", steps, "] ('", steps_key, "'), got ", warmup);
}

}  // namespace

RunConfig read_run_config(const std::filesystem::path& file) {
  const std::string name = file.string();
  toml::table root;
  try {
    root = toml::parse(read_whole_file(file), name);  // read_whole_file refuses a FIFO instead of hanging on it
  } catch (const toml::parse_error& error) {
    fail(name, ":", error.source().begin.line, ": ", error.description());
  }
  const std::set<std::string> tables{"run", "model", "data", "score", "plan", "distill", "eval", "bench", "report"};
  for (const auto& [key, value] : root)
    if (!tables.count(std::string(key.str())))
      fail(name, ": unknown table [", key.str(),
           "]; valid tables: run, model, data, score, plan, distill, eval, bench, report");

  RunConfig config;
  config.file = file;
  TableReader run(root, "run", {"name", "db", "out", "seed"}, name);
  run.read("name", config.name);
  run.read("db", config.db);
  run.read("out", config.out);
  run.read("seed", config.seed);
  TableReader model(root, "model", {"path", "device", "dtype"}, name);
  model.read("path", config.model);
  model.read("device", config.device);
  model.read("dtype", config.dtype);
  TableReader data(root, "data", {"source", "eval_samples", "train_samples", "seq_len", "ignore_loss_spans"}, name);
  data.read("source", config.data);
  data.read("eval_samples", config.eval_samples);
  data.read("train_samples", config.train_samples);
  data.read("seq_len", config.seq_len);
  data.read("ignore_loss_spans", config.ignore_loss_spans);
  TableReader score(root, "score", {"scorers", "batch_size", "mmr_steps", "mmr_train_samples", "mmr_lr", "mmr_warmup"},
                    name);
  score.read("scorers", config.scorers);
  score.read("batch_size", config.score_batch);
  score.read("mmr_steps", config.mmr_steps);
  score.read("mmr_train_samples", config.mmr_train_samples);
  score.read("mmr_lr", config.mmr_lr);
  score.read("mmr_warmup", config.mmr_warmup);
  TableReader plan(root, "plan", {"targets", "strategies", "keep", "max_per_stage"}, name);
  plan.read("targets", config.targets);
  plan.read("strategies", config.strategies);
  plan.read("keep", config.keep);
  plan.read("max_per_stage", config.max_per_stage);
  TableReader distill(root, "distill",
                      {"steps", "batch", "accumulation", "lr", "warmup", "train", "activation_checkpointing",
                       "compare_forward_kl", "loss", "ce_weight"},
                      name);
  distill.read("steps", config.distill_steps);
  distill.read("batch", config.distill_batch);
  distill.read("accumulation", config.distill_accumulation);
  distill.read("activation_checkpointing", config.activation_checkpointing);
  distill.read("lr", config.distill_lr);
  distill.read("warmup", config.distill_warmup);
  distill.read("train", config.train);
  distill.read("compare_forward_kl", config.compare_forward_kl);
  distill.read("loss", config.loss);
  distill.read("ce_weight", config.ce_weight);
  TableReader eval(root, "eval",
                   {"tasks", "samples", "temperature", "max_new_tokens", "gate_max_drop", "gate_below_parent"}, name);
  eval.read("tasks", config.eval_tasks);
  eval.read("samples", config.eval_task_samples);
  eval.read("temperature", config.eval_temperature);
  eval.read("max_new_tokens", config.eval_max_new_tokens);
  eval.read("gate_max_drop", config.gate_max_drop);
  eval.read("gate_below_parent", config.gate_below_parent);
  TableReader bench(root, "bench", {"prompt_len", "gen_len", "batch"}, name);
  bench.read("prompt_len", config.prompt_len);
  bench.read("gen_len", config.gen_len);
  bench.read("batch", config.bench_batch);
  TableReader report(root, "report", {"out"}, name);
  report.read("out", config.report);

  if (config.model.empty()) fail(name, ": key 'model.path' is required (a teacher checkpoint directory)");
  if (config.targets.empty())
    fail(name, ": key 'plan.targets' is required (numbers of Mamba layers, like [25, 30, 40])");
  for (const auto& [key, value] : std::map<const char*, int64_t>{{"data.eval_samples", config.eval_samples},
                                                                 {"data.train_samples", config.train_samples},
                                                                 {"score.batch_size", config.score_batch},
                                                                 {"score.mmr_steps", config.mmr_steps},
                                                                 {"distill.steps", config.distill_steps},
                                                                 {"distill.batch", config.distill_batch},
                                                                 {"distill.accumulation", config.distill_accumulation},
                                                                 {"bench.batch", config.bench_batch},
                                                                 {"eval.samples", config.eval_task_samples},
                                                                 {"eval.max_new_tokens", config.eval_max_new_tokens},
                                                                 {"bench.prompt_len", config.prompt_len},
                                                                 {"bench.gen_len", config.gen_len}})
    require_positive(name, key, value);
  if (config.seq_len < 2) fail(name, ": key 'data.seq_len' must be at least 2, got ", config.seq_len);
  for (const auto& [key, value] : std::map<const char*, double>{
           {"score.mmr_lr", config.mmr_lr}, {"distill.lr", config.distill_lr}, {"distill.ce_weight", config.ce_weight}})
    if (!(value > 0) || !std::isfinite(value)) fail(name, ": key '", key, "' must be a positive number, got ", value);
  for (const auto& [key, value] : std::map<const char*, double>{{"eval.temperature", config.eval_temperature},
                                                                {"eval.gate_max_drop", config.gate_max_drop}})
    if (!(value >= 0) || !std::isfinite(value)) fail(name, ": key '", key, "' must be a number >= 0, got ", value);
  if (config.eval_task_samples > 1 && config.eval_temperature == 0)
    fail(name, ": key 'eval.samples' is ", config.eval_task_samples, ", which needs 'eval.temperature' above 0");
  if ((config.gate_max_drop > 0 || config.gate_below_parent) && config.eval_tasks.empty())
    fail(name, ": a quality gate ('eval.gate_max_drop', 'eval.gate_below_parent') needs 'eval.tasks'");
  require_warmup(name, "score.mmr_warmup", config.mmr_warmup, "score.mmr_steps", config.mmr_steps);
  require_warmup(name, "distill.warmup", config.distill_warmup, "distill.steps", config.distill_steps);
  if (config.max_per_stage < 0)
    fail(name, ": key 'plan.max_per_stage' must not be negative, got ", config.max_per_stage);
  // Names checked now, so a typo fails before hours of scoring rather than after.
  with_context(name + ": key 'score.scorers': ", [&] {
    for (const auto& scorer : config.scorers) search::parse_scorer(scorer);
  });
  with_context(name + ": key 'plan.strategies': ", [&] {
    for (const auto& strategy : config.strategies) search::parse_strategy(strategy);
  });
  with_context(name + ": key 'distill.train': ", [&] { train::parse_trainable(config.train); });
  with_context(name + ": key 'distill.loss': ", [&] { train::parse_stage_loss(config.loss); });
  // Paths in the file are relative to the file's folder, so a config works from any directory.
  const auto base = file.parent_path();
  auto resolve = [&](std::filesystem::path& path) {
    if (!path.empty() && path.is_relative()) path = (base / path).lexically_normal();
  };
  resolve(config.model);
  resolve(config.out);
  for (auto& task : config.eval_tasks) resolve(task);
  if (config.data != "synthetic") {
    std::filesystem::path data_path = config.data;
    resolve(data_path);
    config.data = data_path.string();
  }
  if (config.db.empty())
    config.db = config.out / "results.db";
  else
    resolve(config.db);
  if (config.report.empty())
    config.report = config.out / "report.html";
  else
    resolve(config.report);
  return config;
}

}  // namespace hybridize::cli
