#pragma once
// The decoder hyper-parameters of an HF config.json for LlamaForCausalLM,
// MistralForCausalLM and Qwen2ForCausalLM. Settings that would change the
// math and that hybridize does not implement are refused, never ignored.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>

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

  int64_t gqa_group() const { return num_heads / num_kv_heads; }
};

// `source` names the file in error messages.
TransformerConfig parse_transformer_config(const nlohmann::json& json, const std::string& source);
// Reads DIR/config.json (or the file itself when given a file).
TransformerConfig read_transformer_config(const std::filesystem::path& path);

}  // namespace hybridize::io
