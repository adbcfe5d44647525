#pragma once
// The decoder hyper-parameters of an HF config.json for LlamaForCausalLM,
// MistralForCausalLM and Qwen2ForCausalLM. Settings that would change the
// math and that hybridize does not implement are refused, never ignored.
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace hybridize::io {

enum class RopeScalingType { None, Linear, Llama3 };

struct RopeScaling {
  RopeScalingType type = RopeScalingType::None;
  double factor = 1.0;
  // llama3 only
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

// The "m2" Mamba mixer of Apriel-H hybrids (Mamba-in-Llama): ssm_cfg in config.json.
struct SsmConfig {
  int64_t d_state = 16;
  int64_t d_inner = 0;  // width of x, z, C after repetition (MIL: heads * head_dim)
  int64_t d_xb = 0;     // width of x and B before repetition (MIL: kv_heads * head_dim)
  int64_t dt_rank = 0;
  int64_t d_conv = 4;
  double dt_min = 0.001, dt_max = 0.1, dt_scale = 1.0, dt_init_floor = 1e-4;
  std::string dt_init = "random";  // or "constant"
  bool conv_bias = true;
  bool dt_proj_bias = true;
  bool repeat_kv_before_conv = true;

  int64_t conv_channels() const { return repeat_kv_before_conv ? d_inner : d_xb; }
  int64_t group_repeat() const { return d_inner / d_xb; }  // C heads per B group
};

struct TransformerConfig {
  std::string model_type;    // "llama", "mistral" or "qwen2"
  std::string architecture;  // e.g. "MistralForCausalLM"
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  bool qkv_bias = false;     // Qwen2, or Llama's attention_bias
  bool o_proj_bias = false;  // Llama's attention_bias only
  bool mlp_bias = false;
  // Per layer: how many most recent tokens (itself included) a query sees; 0 = all.
  std::vector<int64_t> attention_windows;
  std::string torch_dtype;  // as saved, informational
  // Apriel-H hybrids (model_type "apriel_hybrid_ssm"): the saved per-layer block
  // types ("t" attention, "m2" Mamba, "i" identity) and the Mamba settings.
  std::vector<std::string> hybrid_block_layout;
  std::optional<SsmConfig> ssm;

  int64_t gqa_group() const { return num_heads / num_kv_heads; }
};

// Checks that the SSM widths fit together (and divide into d_state heads);
// `where` prefixes errors ("config.json: key 'ssm_cfg.d_xb': ...").
void validate_ssm_config(const SsmConfig& ssm, const std::string& where);

// `source` names the file in error messages.
TransformerConfig parse_transformer_config(const nlohmann::json& json, const std::string& source);
// The config.json that parse_transformer_config reads back to the same config.
// Hybrids (hybrid_block_layout set) are written as model_type apriel_hybrid_ssm,
// whose attention is Mistral's: biased attention cannot be expressed there and
// is refused.
nlohmann::json to_hf_json(const TransformerConfig& config);
// Throws Error when hybrids of this teacher cannot be written in the Apriel-H
// format (it has no attention or MLP biases): checked before a distillation
// trains, not when its first stage is saved.
void require_hybrid_format(const TransformerConfig& config);

// Reads DIR/config.json (or the file itself when given a file).
TransformerConfig read_transformer_config(const std::filesystem::path& path);

}  // namespace hybridize::io
