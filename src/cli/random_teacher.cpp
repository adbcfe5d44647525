// `hybridize random-teacher --config DIR --out DIR`: a teacher of a real model's
// shape with random weights, written as an HF checkpoint, to run the pipeline
// at scale (memory, time, resume) before the real weights are at hand.
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "core/error.h"
#include "core/format.h"
#include "core/log.h"
#include "infer/bench.h"
#include "io/hf_config.h"
#include "model/device.h"
#include "model/summary.h"
#include "model/weights.h"

namespace hybridize::cli {

namespace {

struct RandomTeacherOptions {
  std::string config;
  std::string out;
  std::string dtype = "bf16";
  std::string device;
  uint64_t seed = 0;
};

void run_random_teacher(const RandomTeacherOptions& options) {
  const auto config = io::read_transformer_config(options.config);
  if (config.ssm || !config.hybrid_block_layout.empty())
    fail(options.config, ": a hybrid's config; random-teacher writes all-attention teachers");
  if (std::filesystem::exists(options.out)) fail("--out: ", options.out, " exists; random-teacher does not overwrite");
  const auto dtype = model::parse_precision(options.dtype);
  const auto device = model::parse_device(options.device);
  torch::manual_seed(options.seed);
  model::CausalLM teacher(config, model::Layout::all_attention(config.num_layers),
                          at::TensorOptions().dtype(dtype).device(device));
  infer::fill_random_weights_for_speed(*teacher);
  const auto counts = model::count_parameters(*teacher);
  log_info("random-teacher: ", format_count(counts.total()), " parameters in ", options.dtype, " on ", device.str(),
           "; writing ", options.out);
  model::save_causal_lm(*teacher, options.out);
  std::printf("wrote %s: %s parameters, %s\n", options.out.c_str(), format_count(counts.total()).c_str(),
              format_bytes(uint64_t(counts.total()) * uint64_t(at::elementSize(dtype))).c_str());
}

}  // namespace

void add_random_teacher_command(CLI::App& app) {
  auto options = std::make_shared<RandomTeacherOptions>();
  auto* command = app.add_subcommand(
      "random-teacher",
      "Write a teacher of a model's shape with random weights (N(0, 0.02), norms 1): to try scoring, planning, "
      "distillation and benchmarks at scale before the real checkpoint is at hand");
  command->add_option("--config", options->config, "A model directory or its config.json (Llama, Mistral, Qwen2)")
      ->required();
  command->add_option("--out", options->out, "New directory for config.json and the safetensors shards")->required();
  command->add_option("--dtype", options->dtype, "Precision of the weights: fp32, bf16 or fp16")->capture_default_str();
  command->add_option("--device", options->device,
                      "Where the weights are drawn: cpu, cuda or cuda:N (default: cuda if any)");
  command->add_option("--seed", options->seed, "Seed of the draws")->capture_default_str();
  command->callback([options] { run_random_teacher(*options); });
}

}  // namespace hybridize::cli
