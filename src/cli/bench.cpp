// `hybridize bench --model DIR ...`: generation throughput of the model and its
// hybrid layouts, measured in one process, as a table (or JSON) with each
// layout's speedup over the model itself.

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/option_checks.h"
#include "core/error.h"
#include "core/format.h"
#include "core/version.h"
#include "infer/bench.h"
#include "infer/device_rates.h"
#include "model/device.h"
#include "model/mil.h"
#include "model/weights.h"
#include "search/calibration.h"
#include "search/cost_model.h"
#include "search/provenance.h"
#include "store/results_store.h"

namespace hybridize::cli {

namespace {

struct BenchOptions {
  std::string model;
  std::vector<std::string> layouts;
  std::vector<int64_t> mamba_counts;
  int64_t d_state = 16;
  // The Apriel-H1 report's protocol by default: 1024 + 4096 tokens, 0.9 of the
  // card, two waves of requests at the batch the memory allows.
  int64_t prompt_length = 1024, generated_length = 4096;
  std::string batch = "auto";
  std::string dtype = "bf16";
  std::string device;
  double memory_budget_gib = 0;  // 0: memory_fraction of the card (16 GiB on the CPU)
  double memory_fraction = 0.9;
  int64_t max_batch = 0;
  int64_t requests = 0;
  int64_t waves = 2;
  int64_t prefill_tokens = infer::kDefaultPrefillTokens;
  uint64_t seed = 0;
  bool random_init = false;  // build from config.json alone with random weights
  bool no_cuda_graphs = false;
  bool also_eager = false;
  std::string database;        // store the results there
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

// One layout's decode step beside the device's limits: what the step must move
// (search/cost_model.h at the measured batch), that over the measured bandwidth
// (the floor no implementation beats), and the cost model's prediction from
// both measured rates.
struct StepAnalysis {
  double step_seconds = 0;  // measured
  double bytes = 0, floor_seconds = 0;
  double predicted_tokens_per_second = 0;
};

StepAnalysis analyse_step(const io::TransformerConfig& config, const infer::BenchResult& r,
                          const infer::DeviceRates& measured, at::ScalarType dtype) {
  search::Workload workload;
  workload.prompt_tokens = r.prompt_length;
  workload.generated_tokens = r.generated_length;
  workload.dtype_bytes = int64_t(c10::elementSize(dtype));
  const auto work =
      search::decode_step_work(config, model::Layout::parse(r.layout, config.num_layers, "bench"), workload, r.batch);
  search::HardwareRates rates;
  rates.bytes_per_second = measured.copy_bytes_per_second;
  rates.flops_per_second = measured.matmul_flops_per_second;
  StepAnalysis analysis;
  analysis.step_seconds = r.decode_steps > 0 ? r.decode_seconds / double(r.decode_steps) : 0;
  analysis.bytes = work.bytes;
  analysis.floor_seconds = work.bytes / rates.bytes_per_second;
  analysis.predicted_tokens_per_second = double(r.batch) / work.seconds(rates);
  return analysis;
}

void print_table(const BenchOptions& options, int64_t budget_bytes, const at::Device& device,
                 const infer::DeviceRates& rates, const std::vector<infer::BenchResult>& results,
                 const std::vector<StepAnalysis>& steps) {
  std::printf("model    %s on %s in %s, %lld prompt + %lld generated tokens a sequence\n", options.model.c_str(),
              device.str().c_str(), options.dtype.c_str(), (long long)options.prompt_length,
              (long long)options.generated_length);
  std::printf("device   %s: copy %.1f GB/s (read + written), %s matmul %.2f TFLOP/s; decode %s\n",
              rates.device_name.c_str(), rates.copy_bytes_per_second / 1e9, options.dtype.c_str(),
              rates.matmul_flops_per_second / 1e12,
              device.is_cuda() && !options.no_cuda_graphs ? "from CUDA graphs" : "eager");
  std::printf(
      "budget   %s: weights, a prefill workspace of %lld tokens, then per sequence its state and decode share\n",
      format_bytes(uint64_t(budget_bytes)).c_str(), (long long)options.prefill_tokens);
  std::printf("\n%5s %6s %8s %8s %14s %13s %12s %11s %8s  %s\n", "mamba", "batch", "requests", "prefill",
              "prefill tok/s", "decode tok/s", "total tok/s", "state/seq", "speedup", "layout");
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    std::printf("%5lld %6lld %8lld %7.1f%% %14.1f %13.1f %12.1f %11s %7.2fx  %s%s\n", (long long)r.mamba_layers,
                (long long)r.batch, (long long)r.requests, 100 * r.prefill_share, r.prefill_tokens_per_second,
                r.decode_tokens_per_second, r.total_tokens_per_second,
                format_bytes(uint64_t(r.state_bytes_per_sequence)).c_str(), r.speedup, r.layout.c_str(),
                i == 0 ? " (model)" : "");
  }
  std::printf(
      "\nbatch: sequences at once; prefill: share of wall time in prefill; total tok/s: generated tokens over wall\n"
      "time (prefill, decode, graph capture); speedup: total tok/s over the model's\n");

  const bool eager_too = !results.empty() && results.front().eager_decode_tokens_per_second > 0;
  std::printf("\n%5s %6s %9s %10s %9s %10s %15s %13s %7s", "mamba", "batch", "step ms", "GB/step", "floor ms",
              "over floor", "predicted tok/s", "decode tok/s", "error");
  if (eager_too) std::printf(" %13s %12s", "eager tok/s", "graphs gain");
  std::printf("\n");
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    const auto& a = steps[i];
    std::printf("%5lld %6lld %9.3f %10.3f %9.3f %9.2fx %15.1f %13.1f %+6.1f%%", (long long)r.mamba_layers,
                (long long)r.batch, a.step_seconds * 1e3, a.bytes / 1e9, a.floor_seconds * 1e3,
                a.step_seconds / a.floor_seconds, a.predicted_tokens_per_second, r.decode_tokens_per_second,
                100 * (a.predicted_tokens_per_second / r.decode_tokens_per_second - 1));
    if (eager_too)
      std::printf(" %13.1f %11.2fx", r.eager_decode_tokens_per_second,
                  r.decode_tokens_per_second / r.eager_decode_tokens_per_second);
    std::printf("\n");
  }
  std::printf(
      "\nGB/step: weights + KV cache at the mean context + recurrent state read and written; floor: that over "
      "the copy bandwidth;\npredicted: the cost model (search/cost_model.h) from both measured rates; error: "
      "predicted over measured decode tok/s\n");
}

nlohmann::json to_json(const infer::BenchResult& r, const StepAnalysis& a, const infer::DeviceRates& rates,
                       int64_t budget_bytes) {
  return {{"layout", r.layout},
          {"attention_layers", r.attention_layers},
          {"mamba_layers", r.mamba_layers},
          {"batch", r.batch},
          {"prompt_length", r.prompt_length},
          {"generated_length", r.generated_length},
          {"requests", r.requests},
          {"wall_seconds", r.wall_seconds},
          {"prefill_share", r.prefill_share},
          {"workspace_bytes", r.workspace_bytes},
          {"prefill_seconds", r.prefill_seconds},
          {"decode_seconds", r.decode_seconds},
          {"decode_steps", r.decode_steps},
          {"capture_seconds", r.capture_seconds},
          {"prefill_tokens_per_second", r.prefill_tokens_per_second},
          {"decode_tokens_per_second", r.decode_tokens_per_second},
          {"eager_decode_tokens_per_second", r.eager_decode_tokens_per_second},
          {"total_tokens_per_second", r.total_tokens_per_second},
          {"weight_bytes", r.weight_bytes},
          {"state_bytes_per_sequence", r.state_bytes_per_sequence},
          {"speedup", r.speedup},
          {"step_seconds", a.step_seconds},
          {"step_bytes", a.bytes},
          {"floor_seconds", a.floor_seconds},
          {"predicted_decode_tokens_per_second", a.predicted_tokens_per_second},
          {"device", rates.device_name},
          {"copy_bytes_per_second", rates.copy_bytes_per_second},
          {"matmul_flops_per_second", rates.matmul_flops_per_second},
          {"memory_budget_bytes", budget_bytes},
          {"code_version", std::string(code_version())}};
}

void run_bench(const BenchOptions& options) {
  infer::BenchSettings settings;
  settings.prompt_length = options.prompt_length;
  settings.generated_length = options.generated_length;
  settings.batch = parse_batch(options.batch);
  settings.seed = options.seed;
  settings.requests = options.requests;
  settings.waves = options.waves;
  settings.prefill_tokens = options.prefill_tokens;
  settings.max_batch = options.max_batch;
  settings.cuda_graphs = !options.no_cuda_graphs;
  settings.also_eager = options.also_eager;
  const auto device = model::parse_device(options.device);
  const auto dtype = model::parse_precision(options.dtype);

  // Layouts are checked before the (possibly long) load.
  const auto config = io::read_transformer_config(options.model);
  std::vector<model::Layout> layouts;
  for (const auto& text : options.layouts)
    layouts.push_back(model::Layout::parse(text, config.num_layers, "--layouts"));
  for (int64_t count : options.mamba_counts)
    layouts.push_back(
        with_context("--mamba-counts: ", [&] { return infer::evenly_spaced_mamba_layout(config.num_layers, count); }));
  std::optional<store::ResultsStore> results;
  if (!options.database.empty()) results.emplace(options.database);
  if (!options.plans.empty() && !results) fail("--plan needs --db, the store that holds the plan");
  if (options.also_eager && options.no_cuda_graphs)
    fail("--also-eager: compares with CUDA graphs; drop --no-cuda-graphs");
  for (const int64_t plan : options.plans)
    for (const auto& target : results->find_plan(plan).targets)
      layouts.push_back(model::Layout::parse(target.layout, config.num_layers, "plan target layout"));
  const auto ssm = config.ssm ? *config.ssm : model::mil_ssm_config(config, options.d_state);
  auto config_with_ssm = config;
  if (!config_with_ssm.ssm) config_with_ssm.ssm = ssm;

  // Measured first, while the device's memory is free.
  const auto rates = infer::measure_device_rates(device, dtype);
  const double gib = double(int64_t(1) << 30);
  settings.memory_budget = options.memory_budget_gib > 0 ? std::llround(options.memory_budget_gib * gib)
                           : rates.memory_bytes > 0 ? std::llround(options.memory_fraction * double(rates.memory_bytes))
                                                    : std::llround(16 * gib);

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
  std::vector<StepAnalysis> steps;
  for (const auto& r : measured) steps.push_back(analyse_step(config_with_ssm, r, rates, dtype));
  if (results) search::store_device_rates(*results, rates, options.dtype);
  // Random weights have no content to record: only the device's rates are stored then.
  if (results && !options.random_init) {
    const auto model_record = search::describe_model(options.model, *teacher);
    for (const auto& r : measured)
      results->save_benchmark({0, model_record, r.layout, device.str(), options.dtype, r.prompt_length,
                               r.generated_length, r.batch, r.prefill_tokens_per_second, r.decode_tokens_per_second,
                               r.total_tokens_per_second, r.state_bytes_per_sequence, r.speedup, ""});
  }
  if (options.json) {
    nlohmann::json out = nlohmann::json::array();
    for (std::size_t i = 0; i < measured.size(); ++i)
      out.push_back(to_json(measured[i], steps[i], rates, settings.memory_budget));
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    print_table(options, settings.memory_budget, device, rates, measured, steps);
  }
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto options = std::make_shared<BenchOptions>();
  auto* command = app.add_subcommand("bench",
                                     "Measure generation throughput of a model and its hybrid layouts "
                                     "(prefill, decode, total tokens/s, state per sequence, speedup)");
  command->add_option("--model", options->model, "Checkpoint directory (config.json + safetensors)")->required();
  command
      ->add_option("--layouts", options->layouts,
                   "Hybrid layouts to measure, comma-separated (one letter a layer: A, M, I)")
      ->delimiter(',');
  command
      ->add_option("--mamba-counts", options->mamba_counts,
                   "Also measure k evenly spaced Mamba layers, for each k listed")
      ->check(at_least(0))
      ->delimiter(',');
  command->add_option("--d-state", options->d_state, "SSM state size of new Mamba layers (MIL-sized widths)")
      ->check(at_least(1))
      ->capture_default_str();
  command->add_option("--prompt-len", options->prompt_length, "Prompt tokens a request (the paper's protocol: 1024)")
      ->check(at_least(1))
      ->capture_default_str();
  command
      ->add_option(
          "--gen-len", options->generated_length,
          "Generated tokens a request, EOS ignored (the paper's protocol: 4096; it also reports 1024 and 8192)")
      ->check(at_least(1))
      ->capture_default_str();
  command
      ->add_option("--batch", options->batch,
                   "Sequences at once: a number, or auto (the most that fit the memory budget)")
      ->capture_default_str();
  command
      ->add_option(
          "--waves", options->waves,
          "Requests served, in batches: a freed row takes the next request (two waves keep ramp-up and tail small)")
      ->check(at_least(1))
      ->capture_default_str();
  command->add_option("--requests", options->requests, "Requests served, instead of --waves (0: by --waves)")
      ->check(at_least(0))
      ->capture_default_str();
  command
      ->add_option("--prefill-tokens", options->prefill_tokens,
                   "Prompt tokens one prefill forward takes at most (chunked prefill; its workspace is fixed)")
      ->check(at_least(1))
      ->capture_default_str();
  command->add_option("--dtype", options->dtype, "Weights and activations: fp32, bf16 or fp16")->capture_default_str();
  command->add_option("--device", options->device, "cpu or cuda (default: cuda when available)");
  command
      ->add_option("--memory-fraction", options->memory_fraction,
                   "Share of the card's memory for --batch auto: weights, prefill workspace, sequences (as vLLM's "
                   "gpu_memory_utilization)")
      ->check(fraction())
      ->capture_default_str();
  command
      ->add_option("--memory-budget", options->memory_budget_gib,
                   "GiB of device memory for --batch auto, instead of --memory-fraction (default on the CPU: 16)")
      ->check(positive_real());
  command
      ->add_option("--max-batch", options->max_batch,
                   "Cap on --batch auto (0: none), as servers cap theirs (vLLM: max_num_seqs)")
      ->check(at_least(0))
      ->capture_default_str();
  command->add_option("--seed", options->seed, "Seed of the random prompts and new Mamba weights")
      ->capture_default_str();
  command->add_flag("--random-init", options->random_init,
                    "Random weights from config.json alone (speed does not depend on the values)");
  command->add_flag("--no-cuda-graphs", options->no_cuda_graphs, "Decode eagerly, kernel by kernel, also on a GPU");
  command->add_flag(
      "--also-eager", options->also_eager,
      "Also time eager decoding of each layout and print the CUDA graphs' gain (one more generation each)");
  command->add_option(
      "--db", options->database,
      "Results store to record the measurements and the device's rates in (with --random-init: the rates only)");
  command->add_option("--plan", options->plans, "Also measure these stored plans' target layouts (needs --db)");
  command->add_flag("--json", options->json, "Print JSON instead of a table");
  command->callback([options] { run_bench(*options); });
}

}  // namespace hybridize::cli
