// `hybridize inspect MODEL_DIR`: what a checkpoint is, without loading its weights.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/option_checks.h"
#include "core/format.h"
#include "io/checkpoint_files.h"
#include "io/hf_config.h"
#include "model/causal_lm.h"
#include "model/mil.h"
#include "model/summary.h"
#include "model/weights.h"

namespace hybridize::cli {

namespace {

struct InspectOptions {
  std::string directory;
  std::string layout;
  std::string dtype = "bf16";
  int64_t d_state = 16;
  bool json = false;
};

std::string rope_description(const io::TransformerConfig& config) {
  const auto& scaling = config.rope_scaling;
  char text[160];
  switch (scaling.type) {
    case io::RopeScalingType::None:
      std::snprintf(text, sizeof text, "theta %g, no scaling", config.rope_theta);
      break;
    case io::RopeScalingType::Linear:
      std::snprintf(text, sizeof text, "theta %g, linear scaling x%g", config.rope_theta, scaling.factor);
      break;
    case io::RopeScalingType::Llama3:
      std::snprintf(text, sizeof text, "theta %g, llama3 scaling x%g (low %g, high %g, original %lld)",
                    config.rope_theta, scaling.factor, scaling.low_freq_factor, scaling.high_freq_factor,
                    static_cast<long long>(scaling.original_max_position_embeddings));
      break;
  }
  return text;
}

void run_inspect(const InspectOptions& options) {
  auto config = io::read_transformer_config(options.directory);
  const io::CheckpointFiles checkpoint(options.directory);
  const auto saved = model::Layout::saved_in(config);
  const auto layout =
      options.layout.empty() ? saved : model::Layout::parse(options.layout, config.num_layers, "--layout");
  // Mamba layers asked of a transformer are sized as MIL would make them.
  if (layout.count(model::MixerKind::Mamba) > 0 && !config.ssm)
    config.ssm = model::mil_ssm_config(config, options.d_state);
  const auto dtype = model::parse_precision(options.dtype);
  // Meta-device models have every parameter's name and shape and cost no memory:
  // the checkpoint is checked against its own layout, the figures are the asked layout's.
  const auto meta = at::TensorOptions().dtype(dtype).device(at::kMeta);
  model::CausalLM stored(config, saved, meta);
  const auto unused = model::check_parameters(*stored, checkpoint);
  model::CausalLM described(config, layout, meta);
  const auto counts = model::count_parameters(*described);
  const auto per_layer = model::parameters_per_layer(*described);
  const int64_t kv_bytes = model::kv_cache_bytes_per_token(config, layout, dtype);
  const int64_t ssm_bytes = model::ssm_state_bytes_per_sequence(config, layout, dtype);

  if (options.json) {
    nlohmann::json out = {{"directory", options.directory},
                          {"architecture", config.architecture},
                          {"model_type", config.model_type},
                          {"layers", config.num_layers},
                          {"hidden_size", config.hidden_size},
                          {"intermediate_size", config.intermediate_size},
                          {"vocab_size", config.vocab_size},
                          {"num_attention_heads", config.num_heads},
                          {"num_key_value_heads", config.num_kv_heads},
                          {"head_dim", config.head_dim},
                          {"layout", layout.to_string()},
                          {"shards", checkpoint.shard_count()},
                          {"parameters",
                           {{"total", counts.total()},
                            {"embeddings", counts.embeddings},
                            {"attention", counts.attention},
                            {"mamba", counts.mamba},
                            {"mlp", counts.mlp},
                            {"norms", counts.norms},
                            {"lm_head", counts.lm_head}}},
                          {"parameters_per_layer", per_layer},
                          {"attention_windows", config.attention_windows},
                          {"kv_cache_bytes_per_token", kv_bytes},
                          {"ssm_state_bytes_per_sequence", ssm_bytes},
                          {"kv_cache_dtype", options.dtype},
                          {"unused_tensors", unused}};
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }

  std::printf("model        %s\n", options.directory.c_str());
  std::printf("architecture %s (model_type %s), %zu safetensors file(s), %zu tensors\n",
              config.architecture.empty() ? "?" : config.architecture.c_str(), config.model_type.c_str(),
              checkpoint.shard_count(), checkpoint.names().size());
  std::printf("shape        %lld layers, hidden %lld, intermediate %lld, vocab %lld, tied embeddings %s\n",
              (long long)config.num_layers, (long long)config.hidden_size, (long long)config.intermediate_size,
              (long long)config.vocab_size, config.tie_word_embeddings ? "yes" : "no");
  std::printf("attention    %lld query heads, %lld KV heads (GQA group %lld), head_dim %lld, bias %s\n",
              (long long)config.num_heads, (long long)config.num_kv_heads, (long long)config.gqa_group(),
              (long long)config.head_dim, config.qkv_bias ? (config.o_proj_bias ? "q/k/v/o" : "q/k/v") : "none");
  std::printf("rope         %s\n", rope_description(config).c_str());
  std::printf("parameters   %s total: embeddings %s, attention %s, mamba %s, mlp %s, norms %s, lm_head %s\n",
              format_count(counts.total()).c_str(), format_count(counts.embeddings).c_str(),
              format_count(counts.attention).c_str(), format_count(counts.mamba).c_str(),
              format_count(counts.mlp).c_str(), format_count(counts.norms).c_str(),
              format_count(counts.lm_head).c_str());
  std::printf("weights      %s in %s\n", format_bytes(counts.total() * c10::elementSize(dtype)).c_str(),
              options.dtype.c_str());
  std::printf("kv cache     %s per token in %s (%lld attention layers x K,V x %lld heads x %lld)\n",
              format_bytes(kv_bytes).c_str(), options.dtype.c_str(),
              (long long)layout.count(model::MixerKind::Attention), (long long)config.num_kv_heads,
              (long long)config.head_dim);
  if (ssm_bytes > 0)
    std::printf("ssm state    %s per sequence (%lld Mamba layers, d_state %lld, d_inner %lld, d_xb %lld)\n",
                format_bytes(ssm_bytes).c_str(), (long long)layout.count(model::MixerKind::Mamba),
                (long long)config.ssm->d_state, (long long)config.ssm->d_inner, (long long)config.ssm->d_xb);
  std::printf("layout       %s\n", layout.to_string().c_str());
  if (!unused.empty())
    std::printf("unused       %zu checkpoint tensors (first: %s)\n", unused.size(), unused.front().c_str());
  std::printf("\n%5s  %-10s  %-8s  %s\n", "layer", "mixer", "window", "parameters");
  for (int64_t i = 0; i < config.num_layers; ++i) {
    const int64_t window = config.attention_windows[i];
    const std::string reach = layout[i] != model::MixerKind::Attention ? "-"
                              : window == 0                            ? "full"
                                                                       : std::to_string(window);
    std::printf("%5lld  %-10s  %-8s  %s\n", (long long)i, std::string(model::mixer_name(layout[i])).c_str(),
                reach.c_str(), format_count(per_layer[i]).c_str());
  }
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  auto options = std::make_shared<InspectOptions>();
  auto* command = app.add_subcommand("inspect",
                                     "Describe an HF-format checkpoint: architecture, parameter counts, "
                                     "KV-cache bytes per token, layer table (weights are not loaded)");
  command->add_option("MODEL_DIR", options->directory, "Directory with config.json and safetensors weights")
      ->required();
  command->add_option("--layout", options->layout,
                      "Mixer per layer, one letter each: A attention, M Mamba, I identity");
  command->add_option("--dtype", options->dtype, "Precision for the memory figures: fp32, bf16 or fp16")
      ->capture_default_str();
  command
      ->add_option("--d-state", options->d_state,
                   "SSM state size for Mamba layers a transformer is asked to have (--layout with M)")
      ->check(at_least(1))
      ->capture_default_str();
  command->add_flag("--json", options->json, "Print JSON instead of text");
  command->callback([options] { run_inspect(*options); });
}

}  // namespace hybridize::cli
