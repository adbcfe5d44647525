#include "io/hf_config.h"

#include <set>

#include "core/error.h"
#include "core/log.h"
#include "io/json_file.h"

namespace hybridize::io {

namespace {

const std::set<std::string> kSupportedModelTypes = {"llama", "mistral", "qwen2"};

// Keys read below, or known not to change the forward pass. Any other key is
// reported, since a newer transformers may have added one that matters.
const std::set<std::string> kKnownKeys = {
    "architectures", "model_type", "vocab_size", "hidden_size", "intermediate_size",
    "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim",
    "max_position_embeddings", "rms_norm_eps", "rope_theta", "rope_scaling", "rope_parameters",
    "tie_word_embeddings", "attention_bias", "mlp_bias", "sliding_window", "use_sliding_window",
    "max_window_layers", "layer_types", "hidden_act", "torch_dtype", "dtype",
    "partial_rotary_factor", "attn_logit_softcapping", "final_logit_softcapping",
    // harmless: bookkeeping, training-only or generation settings
    "transformers_version", "_name_or_path", "bos_token_id", "eos_token_id", "pad_token_id",
    "initializer_range", "use_cache", "attention_dropout", "pretraining_tp", "output_attentions",
    "output_hidden_states", "return_dict", "is_decoder", "tokenizer_class", "use_return_dict",
    "id2label", "label2id", "problem_type", "pruned_heads", "torchscript", "chunk_size_feed_forward",
    "cross_attention_hidden_size", "add_cross_attention", "tie_encoder_decoder", "finetuning_task",
    "task_specific_params", "prefix", "sep_token_id", "decoder_start_token_id", "generation_config",
    "use_mrope"};

struct Reader {
  const nlohmann::json& json;
  const std::string& source;

  bool has(const char* key) const { return json.contains(key) && !json.at(key).is_null(); }

  [[noreturn]] void bad(const std::string& key, const std::string& why) const {
    fail(source, ": key '", key, "': ", why);
  }

  int64_t positive_int(const char* key) const {
    if (!has(key)) bad(key, "missing");
    const auto& value = json.at(key);
    if (!value.is_number_integer() || value.get<int64_t>() <= 0) bad(key, "must be a positive integer, got " + value.dump());
    return value.get<int64_t>();
  }
  int64_t positive_int_or(const char* key, int64_t fallback) const { return has(key) ? positive_int(key) : fallback; }

  double positive_number_or(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    const auto& value = json.at(key);
    if (!value.is_number() || value.get<double>() <= 0) bad(key, "must be a positive number, got " + value.dump());
    return value.get<double>();
  }
  bool flag_or(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    if (!json.at(key).is_boolean()) bad(key, "must be true or false, got " + json.at(key).dump());
    return json.at(key).get<bool>();
  }
  std::string string_or(const char* key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    if (!json.at(key).is_string()) bad(key, "must be a string, got " + json.at(key).dump());
    return json.at(key).get<std::string>();
  }
};

// rope_scaling (transformers 4) or rope_parameters (transformers 5, which also holds rope_theta).
void parse_rope(const Reader& r, TransformerConfig& config) {
  config.rope_theta = r.positive_number_or("rope_theta", 10000.0);
  const char* key = r.has("rope_parameters") ? "rope_parameters" : "rope_scaling";
  if (!r.has(key)) return;
  const auto& rope = r.json.at(key);
  if (!rope.is_object()) r.bad(key, "must be an object");
  const Reader sub{rope, r.source};
  if (sub.has("rope_theta")) config.rope_theta = sub.positive_number_or("rope_theta", config.rope_theta);
  const std::string type = sub.has("rope_type") ? sub.string_or("rope_type", "default") : sub.string_or("type", "default");
  const std::string where = std::string(key) + ".rope_type";
  if (type == "default") return;
  if (type == "linear") {
    config.rope_scaling.type = RopeScalingType::Linear;
  } else if (type == "llama3") {
    config.rope_scaling.type = RopeScalingType::Llama3;
    config.rope_scaling.low_freq_factor = sub.positive_number_or("low_freq_factor", 1.0);
    config.rope_scaling.high_freq_factor = sub.positive_number_or("high_freq_factor", 4.0);
    config.rope_scaling.original_max_position_embeddings = sub.positive_int_or("original_max_position_embeddings", 8192);
    if (config.rope_scaling.high_freq_factor <= config.rope_scaling.low_freq_factor)
      r.bad(std::string(key) + ".high_freq_factor", "must exceed low_freq_factor");
  } else {
    r.bad(where, "'" + type + "' is not supported (supported: default, linear, llama3)");
  }
  if (!sub.has("factor")) r.bad(std::string(key) + ".factor", "missing");
  config.rope_scaling.factor = sub.positive_number_or("factor", 1.0);
}

void parse_attention_windows(const Reader& r, TransformerConfig& config) {
  std::optional<int64_t> window;
  const bool qwen2 = config.model_type == "qwen2";
  // Qwen2 keeps a sliding_window value even when use_sliding_window is false.
  if (r.has("sliding_window") && (!qwen2 || r.flag_or("use_sliding_window", false)))
    window = r.positive_int("sliding_window");

  config.attention_windows.assign(config.num_layers, 0);
  if (r.has("layer_types") && config.model_type != "mistral") {
    const auto& types = r.json.at("layer_types");
    if (!types.is_array() || static_cast<int64_t>(types.size()) != config.num_layers)
      r.bad("layer_types", "must list one entry per layer (" + std::to_string(config.num_layers) + ")");
    for (int64_t i = 0; i < config.num_layers; ++i) {
      const auto type = types[i].is_string() ? types[i].get<std::string>() : types[i].dump();
      if (type == "sliding_attention") {
        if (!window) r.bad("layer_types", "layer " + std::to_string(i) + " is sliding_attention but no sliding_window is set");
        config.attention_windows[i] = *window;
      } else if (type != "full_attention") {
        r.bad("layer_types", "layer " + std::to_string(i) + " has unsupported type '" + type + "'");
      }
    }
    return;
  }
  if (!window) return;
  // Qwen2 without layer_types: layers from max_window_layers on slide.
  const int64_t first = qwen2 ? r.positive_int_or("max_window_layers", 0) : 0;
  for (int64_t i = first; i < config.num_layers; ++i) config.attention_windows[i] = *window;
}

void refuse_unsupported(const Reader& r) {
  const std::string act = r.string_or("hidden_act", "silu");
  if (act != "silu") r.bad("hidden_act", "'" + act + "' is not supported (only silu, the SwiGLU MLP)");
  if (r.has("partial_rotary_factor") && r.positive_number_or("partial_rotary_factor", 1.0) != 1.0)
    r.bad("partial_rotary_factor", "partial rotary embeddings are not supported");
  for (const char* key : {"attn_logit_softcapping", "final_logit_softcapping"})
    if (r.has(key)) r.bad(key, "logit soft-capping is not supported");
  if (r.has("quantization_config")) r.bad("quantization_config", "quantized checkpoints are not supported");
  if (r.has("use_mrope") && r.flag_or("use_mrope", false)) r.bad("use_mrope", "multimodal RoPE is not supported");
}

}  // namespace

TransformerConfig parse_transformer_config(const nlohmann::json& json, const std::string& source) {
  if (!json.is_object()) fail(source, ": not a JSON object");
  const Reader r{json, source};
  TransformerConfig config;
  config.model_type = r.string_or("model_type", "");
  if (!kSupportedModelTypes.count(config.model_type))
    r.bad("model_type", config.model_type.empty() ? "missing" : "'" + config.model_type + "' is not supported (supported: llama, mistral, qwen2)");
  if (r.has("architectures") && json.at("architectures").is_array() && !json.at("architectures").empty())
    config.architecture = json.at("architectures")[0].is_string() ? json.at("architectures")[0].get<std::string>() : "";
  refuse_unsupported(r);

  config.vocab_size = r.positive_int("vocab_size");
  config.hidden_size = r.positive_int("hidden_size");
  config.intermediate_size = r.positive_int("intermediate_size");
  config.num_layers = r.positive_int("num_hidden_layers");
  config.num_heads = r.positive_int("num_attention_heads");
  config.num_kv_heads = r.positive_int_or("num_key_value_heads", config.num_heads);
  if (config.num_heads % config.num_kv_heads != 0)
    r.bad("num_key_value_heads", std::to_string(config.num_kv_heads) + " does not divide num_attention_heads " +
                                     std::to_string(config.num_heads));
  if (r.has("head_dim")) {
    config.head_dim = r.positive_int("head_dim");
  } else {
    if (config.hidden_size % config.num_heads != 0)
      r.bad("num_attention_heads", std::to_string(config.num_heads) + " does not divide hidden_size " +
                                       std::to_string(config.hidden_size) + " and no head_dim is given");
    config.head_dim = config.hidden_size / config.num_heads;
  }
  if (config.head_dim % 2 != 0) r.bad("head_dim", "must be even for rotary embeddings");
  config.max_position_embeddings = r.positive_int_or("max_position_embeddings", 4096);
  config.rms_norm_eps = r.positive_number_or("rms_norm_eps", 1e-6);
  parse_rope(r, config);
  config.tie_word_embeddings = r.flag_or("tie_word_embeddings", false);
  if (config.model_type == "qwen2") {
    config.qkv_bias = true;  // Qwen2 always has q/k/v biases and none on o_proj
  } else if (config.model_type == "llama") {
    config.qkv_bias = config.o_proj_bias = r.flag_or("attention_bias", false);
    config.mlp_bias = r.flag_or("mlp_bias", false);
  }
  parse_attention_windows(r, config);
  config.torch_dtype = r.has("torch_dtype") ? r.string_or("torch_dtype", "") : r.string_or("dtype", "");

  for (const auto& [key, value] : json.items())
    if (!kKnownKeys.count(key))
      log_warning(source, ": unknown key '", key, "' ignored; check that it does not change the model's math");
  return config;
}

TransformerConfig read_transformer_config(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) fail(path.string(), ": no such model directory or config file");
  const auto file = std::filesystem::is_directory(path) ? path / "config.json" : path;
  return parse_transformer_config(read_json_file(file), file.string());
}

}  // namespace hybridize::io
