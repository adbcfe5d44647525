#include "io/hf_config.h"

#include <algorithm>
#include <map>
#include <set>

#include "core/error.h"
#include "core/json_file.h"
#include "core/log.h"

namespace hybridize::io {

namespace {

const std::set<std::string> kSupportedModelTypes = {"llama", "mistral", "qwen2", "apriel_hybrid_ssm"};
// "i" (Fast-LLM's whole-block identity, MLP skipped too) is not hybridize's
// identity mixer (attention removed, MLP kept), so it is refused, not mapped.
const std::set<std::string> kSupportedBlocks = {"t", "m2"};
// What Fast-LLM's Apriel-H config (since December 2025) derives into layer_types
// from each block type, for vLLM; it must agree with hybrid_block_layout.
const std::map<std::string, std::string> kAprielLayerTypes = {{"t", "full_attention"}, {"m2", "mamba2"}};

// Keys read below, or known not to change the forward pass. Any other key is
// reported, since a newer transformers may have added one that matters.
const std::set<std::string> kKnownKeys = {
    "architectures", "model_type", "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
    "num_attention_heads", "num_key_value_heads", "head_dim", "max_position_embeddings", "rms_norm_eps", "rope_theta",
    "rope_scaling", "rope_parameters", "tie_word_embeddings", "attention_bias", "mlp_bias", "sliding_window",
    "use_sliding_window", "max_window_layers", "layer_types", "hidden_act", "torch_dtype", "dtype",
    "partial_rotary_factor", "attn_logit_softcapping", "final_logit_softcapping", "hybrid_block_layout", "ssm_cfg",
    "auto_map",
    // Apriel-H: settings of Kimi-linear / gated-delta-net blocks, which hybrid_block_layout would name
    "linear_attn_config", "gdn_cfg",
    // harmless: bookkeeping, training-only or generation settings
    "transformers_version", "_name_or_path", "bos_token_id", "eos_token_id", "pad_token_id", "initializer_range",
    "use_cache", "attention_dropout", "pretraining_tp", "output_attentions", "output_hidden_states", "return_dict",
    "is_decoder", "tokenizer_class", "use_return_dict", "id2label", "label2id", "problem_type", "pruned_heads",
    "torchscript", "chunk_size_feed_forward", "cross_attention_hidden_size", "add_cross_attention",
    "tie_encoder_decoder", "finetuning_task", "task_specific_params", "prefix", "sep_token_id",
    "decoder_start_token_id", "generation_config", "use_mrope"};

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
    if (!value.is_number_integer() || value.get<int64_t>() <= 0)
      bad(key, "must be a positive integer, got " + value.dump());
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
  const std::string type =
      sub.has("rope_type") ? sub.string_or("rope_type", "default") : sub.string_or("type", "default");
  const std::string where = std::string(key) + ".rope_type";
  if (type == "default") return;
  if (type == "linear") {
    config.rope_scaling.type = RopeScalingType::Linear;
  } else if (type == "llama3") {
    config.rope_scaling.type = RopeScalingType::Llama3;
    config.rope_scaling.low_freq_factor = sub.positive_number_or("low_freq_factor", 1.0);
    config.rope_scaling.high_freq_factor = sub.positive_number_or("high_freq_factor", 4.0);
    config.rope_scaling.original_max_position_embeddings =
        sub.positive_int_or("original_max_position_embeddings", 8192);
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
  const bool mistral_like = config.model_type == "mistral" || config.model_type == "apriel_hybrid_ssm";
  if (r.has("layer_types") && !mistral_like) {
    const auto& types = r.json.at("layer_types");
    if (!types.is_array() || static_cast<int64_t>(types.size()) != config.num_layers)
      r.bad("layer_types", "must list one entry per layer (" + std::to_string(config.num_layers) + ")");
    for (int64_t i = 0; i < config.num_layers; ++i) {
      const auto type = types[i].is_string() ? types[i].get<std::string>() : types[i].dump();
      if (type == "sliding_attention") {
        if (!window)
          r.bad("layer_types", "layer " + std::to_string(i) + " is sliding_attention but no sliding_window is set");
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

SsmConfig parse_ssm(const Reader& r, const TransformerConfig& config) {
  const auto& cfg = r.json.at("ssm_cfg");
  if (!cfg.is_object()) r.bad("ssm_cfg", "must be an object");
  // Sub-keys are reported as "ssm_cfg.<key>".
  const std::string prefix = r.source + ": key 'ssm_cfg.";
  const nlohmann::json& j = cfg;
  auto integer = [&](const char* key, int64_t fallback) -> int64_t {
    if (!j.contains(key) || j.at(key).is_null()) return fallback;
    if (!j.at(key).is_number_integer() || j.at(key).get<int64_t>() <= 0)
      fail(prefix, key, "': must be a positive integer, got ", j.at(key).dump());
    return j.at(key).get<int64_t>();
  };
  auto number = [&](const char* key, double fallback) -> double {
    if (!j.contains(key) || j.at(key).is_null()) return fallback;
    if (!j.at(key).is_number() || j.at(key).get<double>() <= 0)
      fail(prefix, key, "': must be a positive number, got ", j.at(key).dump());
    return j.at(key).get<double>();
  };
  auto flag = [&](const char* key, bool fallback) -> bool {
    if (!j.contains(key) || j.at(key).is_null()) return fallback;
    if (!j.at(key).is_boolean()) fail(prefix, key, "': must be true or false, got ", j.at(key).dump());
    return j.at(key).get<bool>();
  };
  SsmConfig ssm;
  ssm.d_state = integer("d_state", 16);
  ssm.d_inner = integer("d_inner", config.num_heads * config.head_dim);
  ssm.d_xb = integer("d_xb", config.hidden_size);  // Fast-LLM's default: the model width
  ssm.d_conv = integer("d_conv", 4);
  if (j.contains("dt_rank") && j.at("dt_rank").is_string()) {
    if (j.at("dt_rank").get<std::string>() != "auto") fail(prefix, "dt_rank': must be an integer or \"auto\"");
    ssm.dt_rank = (config.hidden_size + 15) / 16;
  } else {
    ssm.dt_rank = integer("dt_rank", (config.hidden_size + 15) / 16);
  }
  ssm.dt_min = number("dt_min", 0.001);
  ssm.dt_max = number("dt_max", 0.1);
  ssm.dt_scale = number("dt_scale", 1.0);
  ssm.dt_init_floor = number("dt_init_floor", 1e-4);
  if (j.contains("dt_init") && j.at("dt_init").is_string()) ssm.dt_init = j.at("dt_init").get<std::string>();
  if (ssm.dt_init != "random" && ssm.dt_init != "constant")
    fail(prefix, "dt_init': '", ssm.dt_init, "' is not supported (random, constant)");
  ssm.conv_bias = flag("conv_bias", true);
  ssm.dt_proj_bias = flag("dt_proj_bias", true);
  ssm.repeat_kv_before_conv = flag("repeat_kv_before_conv", true);
  if (j.contains("activation") && j.at("activation").is_string() && j.at("activation").get<std::string>() != "silu" &&
      j.at("activation").get<std::string>() != "identity")  // "identity" belongs to the m2d mixer's defaults
    fail(prefix, "activation': '", j.at("activation").get<std::string>(), "' is not supported");
  if (flag("bias", false)) fail(prefix, "bias': in_proj/out_proj biases are not supported");
  validate_ssm_config(ssm, r.source);
  return ssm;
}

void parse_hybrid_layout(const Reader& r, TransformerConfig& config) {
  if (!r.has("hybrid_block_layout"))
    r.bad("hybrid_block_layout", "missing (model_type apriel_hybrid_ssm needs one block type per layer)");
  const auto& blocks = r.json.at("hybrid_block_layout");
  if (!blocks.is_array() || static_cast<int64_t>(blocks.size()) != config.num_layers)
    r.bad("hybrid_block_layout", "must list one block type per layer (" + std::to_string(config.num_layers) + ")");
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const auto type = blocks[i].is_string() ? blocks[i].get<std::string>() : blocks[i].dump();
    if (!kSupportedBlocks.count(type))
      r.bad("hybrid_block_layout", "layer " + std::to_string(i) + " has block type '" + type + "' (supported: t, m2)");
    config.hybrid_block_layout.push_back(type);
  }
  if (r.has("layer_types")) {
    const auto& types = r.json.at("layer_types");
    if (!types.is_array() || types.size() != blocks.size())
      r.bad("layer_types", "must list one entry per layer (" + std::to_string(config.num_layers) + ")");
    for (std::size_t i = 0; i < types.size(); ++i) {
      const auto& expected = kAprielLayerTypes.at(config.hybrid_block_layout[i]);
      if (types[i] != expected)
        r.bad("layer_types", "layer " + std::to_string(i) + " is " + types[i].dump() +
                                 " but hybrid_block_layout says '" + config.hybrid_block_layout[i] + "' (" + expected +
                                 ")");
    }
  }
  const bool any_mamba = std::count(config.hybrid_block_layout.begin(), config.hybrid_block_layout.end(), "m2") > 0;
  if (r.has("ssm_cfg"))
    config.ssm = parse_ssm(r, config);
  else if (any_mamba)
    r.bad("ssm_cfg", "missing, but hybrid_block_layout has m2 layers");
}

}  // namespace

void validate_ssm_config(const SsmConfig& ssm, const std::string& where) {
  const std::string prefix = where + ": key 'ssm_cfg.";
  for (const auto& [key, value] : {std::pair{"d_state", ssm.d_state},
                                   {"d_inner", ssm.d_inner},
                                   {"d_xb", ssm.d_xb},
                                   {"d_conv", ssm.d_conv},
                                   {"dt_rank", ssm.dt_rank}})
    if (value <= 0) fail(prefix, key, "': must be a positive integer, got ", value);
  if (ssm.d_inner % ssm.d_state != 0)
    fail(prefix, "d_inner': ", ssm.d_inner, " is not a multiple of d_state ", ssm.d_state);
  if (ssm.d_xb % ssm.d_state != 0) fail(prefix, "d_xb': ", ssm.d_xb, " is not a multiple of d_state ", ssm.d_state);
  if (ssm.d_inner % ssm.d_xb != 0)
    fail(prefix, "d_xb': ", ssm.d_xb, " does not divide d_inner ", ssm.d_inner,
         " (B and x are repeated up to d_inner)");
}

TransformerConfig parse_transformer_config(const nlohmann::json& json, const std::string& source) {
  if (!json.is_object()) fail(source, ": not a JSON object");
  const Reader r{json, source};
  TransformerConfig config;
  config.model_type = r.string_or("model_type", "");
  if (!kSupportedModelTypes.count(config.model_type))
    r.bad("model_type",
          config.model_type.empty()
              ? "missing"
              : "'" + config.model_type + "' is not supported (supported: llama, mistral, qwen2, apriel_hybrid_ssm)");
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
  if (config.model_type == "apriel_hybrid_ssm") parse_hybrid_layout(r, config);
  config.torch_dtype = r.has("torch_dtype") ? r.string_or("torch_dtype", "") : r.string_or("dtype", "");

  for (const auto& [key, value] : json.items())
    if (!kKnownKeys.count(key))
      log_warning(source, ": unknown key '", key, "' ignored; check that it does not change the model's math");
  return config;
}

void require_hybrid_format(const TransformerConfig& config) {
  if (config.qkv_bias || config.o_proj_bias || config.mlp_bias)
    fail("config: the Apriel-H hybrid format (a Mistral config) cannot express attention or MLP biases of a ",
         config.model_type, " teacher");
}

nlohmann::json to_hf_json(const TransformerConfig& config) {
  const bool hybrid = !config.hybrid_block_layout.empty();
  if (hybrid) require_hybrid_format(config);
  nlohmann::json j;
  j["model_type"] = hybrid ? "apriel_hybrid_ssm" : config.model_type;
  j["architectures"] = {hybrid ? std::string("AprielHybridSSMForCausalLM") : config.architecture};
  j["vocab_size"] = config.vocab_size;
  j["hidden_size"] = config.hidden_size;
  j["intermediate_size"] = config.intermediate_size;
  j["num_hidden_layers"] = config.num_layers;
  j["num_attention_heads"] = config.num_heads;
  j["num_key_value_heads"] = config.num_kv_heads;
  j["head_dim"] = config.head_dim;
  j["max_position_embeddings"] = config.max_position_embeddings;
  j["rms_norm_eps"] = config.rms_norm_eps;
  j["rope_theta"] = config.rope_theta;
  j["hidden_act"] = "silu";
  j["tie_word_embeddings"] = config.tie_word_embeddings;
  if (!config.torch_dtype.empty()) j["torch_dtype"] = config.torch_dtype;
  const auto& rope = config.rope_scaling;
  if (rope.type == RopeScalingType::Linear) {
    j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", rope.factor}};
  } else if (rope.type == RopeScalingType::Llama3) {
    j["rope_scaling"] = {{"rope_type", "llama3"},
                         {"factor", rope.factor},
                         {"low_freq_factor", rope.low_freq_factor},
                         {"high_freq_factor", rope.high_freq_factor},
                         {"original_max_position_embeddings", rope.original_max_position_embeddings}};
  }
  if (config.model_type == "llama") {
    j["attention_bias"] = config.qkv_bias;
    j["mlp_bias"] = config.mlp_bias;
  }
  // Windows: one for all layers (mistral) or per layer (layer_types).
  const auto& windows = config.attention_windows;
  const bool uniform = std::all_of(windows.begin(), windows.end(), [&](int64_t w) { return w == windows.front(); });
  if (!windows.empty() && windows.front() > 0 && uniform && (hybrid || config.model_type == "mistral")) {
    j["sliding_window"] = windows.front();
  } else if (std::any_of(windows.begin(), windows.end(), [](int64_t w) { return w > 0; })) {
    if (hybrid || config.model_type == "mistral")
      fail("config: per-layer sliding windows cannot be written for ", j["model_type"].get<std::string>());
    const int64_t window = *std::max_element(windows.begin(), windows.end());
    j["sliding_window"] = window;
    if (config.model_type == "qwen2") j["use_sliding_window"] = true;
    nlohmann::json types = nlohmann::json::array();
    for (int64_t w : windows) {
      if (w != 0 && w != window) fail("config: layers use different sliding windows");
      types.push_back(w ? "sliding_attention" : "full_attention");
    }
    j["layer_types"] = types;
  } else if (config.model_type == "mistral" || hybrid) {
    j["sliding_window"] = nullptr;
  }
  if (hybrid) {
    // What Fast-LLM's current Apriel-H config class writes beside the block layout
    // (layer_types for vLLM, the default settings of linear-attention blocks) and
    // where HF transformers finds its code (trust_remote_code, the modeling file
    // placed beside the checkpoint).
    j["hybrid_block_layout"] = config.hybrid_block_layout;
    nlohmann::json types = nlohmann::json::array();
    for (const auto& block : config.hybrid_block_layout) types.push_back(kAprielLayerTypes.at(block));
    j["layer_types"] = types;
    j["linear_attn_config"] = {{"short_conv_kernel_size", 4}, {"head_dim", 128}, {"num_heads", 32}};
    j["auto_map"] = {{"AutoConfig", "configuration_apriel_hybrid_ssm.AprielHybridSSMConfig"},
                     {"AutoModel", "modeling_apriel_hybrid_ssm.AprielHybridSSMModel"},
                     {"AutoModelForCausalLM", "modeling_apriel_hybrid_ssm.AprielHybridSSMForCausalLM"}};
    if (config.ssm) {
      const auto& ssm = *config.ssm;
      j["ssm_cfg"] = {{"d_state", ssm.d_state},
                      {"d_inner", ssm.d_inner},
                      {"d_xb", ssm.d_xb},
                      {"dt_rank", ssm.dt_rank},
                      {"d_conv", ssm.d_conv},
                      {"dt_min", ssm.dt_min},
                      {"dt_max", ssm.dt_max},
                      {"dt_init", ssm.dt_init},
                      {"dt_scale", ssm.dt_scale},
                      {"dt_init_floor", ssm.dt_init_floor},
                      {"conv_bias", ssm.conv_bias},
                      {"dt_proj_bias", ssm.dt_proj_bias},
                      {"repeat_kv_before_conv", ssm.repeat_kv_before_conv},
                      {"activation", "silu"},
                      {"bias", false}};
    }
  }
  return j;
}

TransformerConfig read_transformer_config(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) fail(path.string(), ": no such model directory or config file");
  const auto file = std::filesystem::is_directory(path) ? path / "config.json" : path;
  return parse_transformer_config(read_json_file(file), file.string());
}

}  // namespace hybridize::io
