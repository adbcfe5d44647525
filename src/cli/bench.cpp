// `hybridize bench --model DIR ...`: generation throughput of the model and its
// hybrid layouts, measured in one process, as a table (or JSON) with each
// layout's speedup over the model itself.
#include <torch/cuda.h>

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/error.h"
#include "core/format.h"
#include "infer/bench.h"
#include "model/mil.h"
#include "model/weights.h"
#include "search/device.h"
#include "search/provenance.h"
#include "store/results_store.h"

namespace hybridize::cli {

namespace {

struct BenchOptions {
  std::string model;
  std::vector<std::string> layouts;
  std::vector<int64_t> mamba_counts;
  int64_t d_state = 16;
  int64_t prompt_length = 0, generated_length = 0;
  std::string batch = "auto";
  std::string dtype = "bf16";
  std::string device;
  double memory_budget_gib = 16;
  uint64_t seed = 0;
  bool random_init = false;  // build from config.json alone with random weights
  std::string database;  // store the results there
  std::vector<int64_t> plans;  // measure these plans' target layouts
  bool json = false;
};

int64_t parse_batch(const std::string& text) {
  if (text == "auto") return 0;
  std::size_t used = 0;
  int64_t batch = 0;
  try {
    batch = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || used == 0 || batch < 1)
    fail("--batch: must be 'auto' or a positive number of sequences, got '", text, "'");
  return batch;
}

void print_table(const BenchOptions& options, const at::Device& device, const std::vector<infer::BenchResult>& results) {
  std::printf("model    %s on %s in %s, %lld prompt + %lld generated tokens a sequence\n", options.model.c_str(),
              device.str().c_str(), options.dtype.c_str(), (long long)options.prompt_length,
              (long long)options.generated_length);
  std::printf("\n%5s %6s %14s %13s %12s %11s %8s  %s\n", "mamba", "batch", "prefill tok/s", "decode tok/s",
              "total tok/s", "state/seq", "speedup", "layout");
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    std::printf("%5lld %6lld %14.1f %13.1f %12.1f %11s %7.2fx  %s%s\n", (long long)r.mamba_layers, (long long)r.batch,
                r.prefill_tokens_per_second, r.decode_tokens_per_second, r.total_tokens_per_second,
                format_bytes(uint64_t(r.state_bytes_per_sequence)).c_str(), r.speedup, r.layout.c_str(),
                i == 0 ? " (model)" : "");
  }
  std::printf("\ntotal tok/s: generated tokens over prefill + decode time; speedup: total tok/s over the model's\n");
}

nlohmann::json to_json(const infer::BenchResult& r) {
  return {{"layout", r.layout}, {"attention_layers", r.attention_layers}, {"mamba_layers", r.mamba_layers},
          {"batch", r.batch}, {"prompt_length", r.prompt_length}, {"generated_length", r.generated_length},
          {"prefill_seconds", r.prefill_seconds}, {"decode_seconds", r.decode_seconds},
          {"prefill_tokens_per_second", r.prefill_tokens_per_second},
          {"decode_tokens_per_second", r.decode_tokens_per_second},
          {"total_tokens_per_second", r.total_tokens_per_second}, {"weight_bytes", r.weight_bytes},
          {"state_bytes_per_sequence", r.state_bytes_per_sequence}, {"speedup", r.speedup}};
}

void run_bench(const BenchOptions& options) {
  infer::BenchSettings settings;
  settings.prompt_length = options.prompt_length;
  settings.generated_length = options.generated_length;
  settings.batch = parse_batch(options.batch);
  if (!(options.memory_budget_gib > 0)) fail("--memory-budget: must be a positive number of GiB, got ", options.memory_budget_gib);
  settings.memory_budget = std::llround(options.memory_budget_gib * double(1ll << 30));
  settings.seed = options.seed;
  if (options.prompt_length < 1) fail("--prompt-len: must be at least 1, got ", options.prompt_length);
  if (options.generated_length < 1) fail("--gen-len: must be at least 1, got ", options.generated_length);
  const auto device =
      search::parse_device(options.device.empty() ? (torch::cuda::is_available() ? "cuda" : "cpu") : options.device);
  const auto dtype = model::parse_precision(options.dtype);

  // Layouts are checked before the (possibly long) load.
  const auto config = io::read_transformer_config(options.model);
  std::vector<model::Layout> layouts;
  for (const auto& text : options.layouts) layouts.push_back(model::Layout::parse(text, config.num_layers, "--layouts"));
  for (int64_t count : options.mamba_counts)
    layouts.push_back(with_context("--mamba-counts: ", [&] { return infer::evenly_spaced_mamba_layout(config.num_layers, count); }));
  std::optional<store::ResultsStore> results;
  if (!options.database.empty()) results.emplace(options.database);
  if (!options.plans.empty() && !results) fail("--plan needs --db, the store that holds the plan");
  if (results && options.random_init) fail("--db: random weights have no content to record; drop --random-init");
  for (const int64_t plan : options.plans)
    for (const auto& target : results->find_plan(plan).targets)
      layouts.push_back(model::Layout::parse(target.layout, config.num_layers, "plan target layout"));
  const auto ssm = config.ssm ? *config.ssm : model::mil_ssm_config(config, options.d_state);

  model::LoadOptions load;
  load.dtype = dtype;
  load.device = device;
  model::CausalLM teacher{nullptr};
  if (options.random_init) {
    teacher = model::CausalLM(config, model::Layout::all_attention(config.num_layers),
                              at::TensorOptions().dtype(dtype).device(device));
    infer::fill_random_weights_for_speed(*teacher);
  } else {
    teacher = model::load_causal_lm(options.model, load);
  }
  const auto measured = infer::run_bench(*teacher, layouts, ssm, settings);
  if (results) {
    const auto model_record = search::describe_model(options.model, *teacher);
    for (const auto& r : measured)
      results->save_benchmark({0, model_record, r.layout, device.str(), options.dtype, r.prompt_length,
                               r.generated_length, r.batch, r.prefill_tokens_per_second, r.decode_tokens_per_second,
                               r.total_tokens_per_second, r.state_bytes_per_sequence, r.speedup, ""});
  }
  if (options.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : measured) out.push_back(to_json(r));
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    print_table(options, device, measured);
  }
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto options = std::make_shared<BenchOptions>();
  auto* command = app.add_subcommand("bench", "Measure generation throughput of a model and its hybrid layouts "
                                              "(prefill, decode, total tokens/s, state per sequence, speedup)");
  command->add_option("--model", options->model, "Checkpoint directory (config.json + safetensors)")->required();
  command->add_option("--layouts", options->layouts, "Hybrid layouts to measure, comma-separated (one letter a layer: A, M, I)")
      ->delimiter(',');
  command->add_option("--mamba-counts", options->mamba_counts, "Also measure k evenly spaced Mamba layers, for each k listed")
      ->delimiter(',');
  command->add_option("--d-state", options->d_state, "SSM state size of new Mamba layers (MIL-sized widths)")->capture_default_str();
  command->add_option("--prompt-len", options->prompt_length, "Prompt tokens a sequence")->required();
  command->add_option("--gen-len", options->generated_length, "Generated tokens a sequence")->required();
  command->add_option("--batch", options->batch, "Sequences at once: a number, or auto (the most that fit --memory-budget)")
      ->capture_default_str();
  command->add_option("--dtype", options->dtype, "Weights and activations: fp32, bf16 or fp16")->capture_default_str();
  command->add_option("--device", options->device, "cpu or cuda (default: cuda when available)");
  command->add_option("--memory-budget", options->memory_budget_gib, "GiB of device memory for --batch auto")
      ->capture_default_str();
  command->add_option("--seed", options->seed, "Seed of the random prompts and new Mamba weights")->capture_default_str();
  command->add_flag("--random-init", options->random_init,
                    "Random weights from config.json alone (speed does not depend on the values)");
  command->add_option("--db", options->database, "Results store to record the measurements in");
  command->add_option("--plan", options->plans, "Also measure these stored plans' target layouts (needs --db)");
  command->add_flag("--json", options->json, "Print JSON instead of a table");
  command->callback([options] { run_bench(*options); });
}

}  // namespace hybridize::cli
