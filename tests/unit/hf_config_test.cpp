// HF config.json parsing for the three supported families.
#include "io/hf_config.h"
#include "catch.h"
#include "temp_dir.h"

using namespace hybridize::io;
using hybridize::testing::TempDir;
using hybridize::testing::write_text;
using nlohmann::json;

namespace {
json base(const std::string& model_type) {
  return {{"model_type", model_type}, {"vocab_size", 100},      {"hidden_size", 64},
          {"intermediate_size", 128}, {"num_hidden_layers", 4}, {"num_attention_heads", 4},
          {"num_key_value_heads", 2}, {"rms_norm_eps", 1e-5},   {"hidden_act", "silu"}};
}
TransformerConfig parse(const json& j) { return parse_transformer_config(j, "config.json"); }
}  // namespace

TEST_CASE("llama config: GQA, derived head_dim, llama3 RoPE, biases", "[io][config]") {
  auto j = base("llama");
  j["attention_bias"] = true;
  j["rope_theta"] = 500000.0;
  j["rope_scaling"] = {{"rope_type", "llama3"},
                       {"factor", 8.0},
                       {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0},
                       {"original_max_position_embeddings", 8192}};
  const auto c = parse(j);
  CHECK(c.head_dim == 16);
  CHECK(c.gqa_group() == 2);
  CHECK(c.qkv_bias);
  CHECK(c.o_proj_bias);
  CHECK(c.rope_theta == 500000.0);
  CHECK(c.rope_scaling.type == RopeScalingType::Llama3);
  CHECK(c.rope_scaling.factor == 8.0);
  CHECK(c.rope_scaling.original_max_position_embeddings == 8192);
  CHECK(c.attention_windows == std::vector<int64_t>(4, 0));
}

TEST_CASE("mistral config: explicit head_dim and a sliding window on every layer", "[io][config]") {
  auto j = base("mistral");
  j["head_dim"] = 32;
  j["sliding_window"] = 4096;
  const auto c = parse(j);
  CHECK(c.head_dim == 32);
  CHECK(c.attention_windows == std::vector<int64_t>(4, 4096));
  CHECK_FALSE(c.qkv_bias);
  j["sliding_window"] = nullptr;
  CHECK(parse(j).attention_windows == std::vector<int64_t>(4, 0));
}

TEST_CASE("qwen2 config: q/k/v bias, sliding window only when enabled", "[io][config]") {
  auto j = base("qwen2");
  j["sliding_window"] = 32768;  // Qwen2 saves it even when unused
  j["use_sliding_window"] = false;
  j["tie_word_embeddings"] = true;
  auto c = parse(j);
  CHECK(c.qkv_bias);
  CHECK_FALSE(c.o_proj_bias);
  CHECK(c.tie_word_embeddings);
  CHECK(c.attention_windows == std::vector<int64_t>(4, 0));
  j["use_sliding_window"] = true;
  j["max_window_layers"] = 2;
  CHECK(parse(j).attention_windows == std::vector<int64_t>{0, 0, 32768, 32768});
  j["layer_types"] = {"sliding_attention", "full_attention", "full_attention", "sliding_attention"};
  CHECK(parse(j).attention_windows == std::vector<int64_t>{32768, 0, 0, 32768});
}

TEST_CASE("transformers 5 rope_parameters are read like rope_scaling", "[io][config]") {
  auto j = base("llama");
  j["rope_parameters"] = {{"rope_type", "linear"}, {"factor", 2.0}, {"rope_theta", 1e6}};
  const auto c = parse(j);
  CHECK(c.rope_theta == 1e6);
  CHECK(c.rope_scaling.type == RopeScalingType::Linear);
  CHECK(c.rope_scaling.factor == 2.0);
}

TEST_CASE("configs that would change the math are refused naming the key", "[io][config][bad-input]") {
  auto j = base("llama");
  SECTION("KV heads that do not divide the query heads") {
    j["num_key_value_heads"] = 3;
    REQUIRE_ERROR(parse(j), "config.json: key 'num_key_value_heads': 3 does not divide num_attention_heads 4");
  }
  SECTION("heads that do not divide hidden_size") {
    j["num_attention_heads"] = 6;
    j["num_key_value_heads"] = 6;
    REQUIRE_ERROR(parse(j), "key 'num_attention_heads': 6 does not divide hidden_size 64");
  }
  SECTION("zero heads") {
    j["num_attention_heads"] = 0;
    REQUIRE_ERROR(parse(j), "key 'num_attention_heads': must be a positive integer, got 0");
  }
  SECTION("missing size") {
    j.erase("hidden_size");
    REQUIRE_ERROR(parse(j), "key 'hidden_size': missing");
  }
  SECTION("another activation") {
    j["hidden_act"] = "gelu";
    REQUIRE_ERROR(parse(j), "key 'hidden_act': 'gelu' is not supported");
  }
  SECTION("unsupported RoPE scaling") {
    j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
    REQUIRE_ERROR(parse(j), "key 'rope_scaling.rope_type': 'yarn' is not supported");
  }
  SECTION("scaling without a factor") {
    j["rope_scaling"] = {{"type", "linear"}};
    REQUIRE_ERROR(parse(j), "key 'rope_scaling.factor': missing");
  }
  SECTION("soft-capping") {
    j["final_logit_softcapping"] = 30.0;
    REQUIRE_ERROR(parse(j), "key 'final_logit_softcapping'");
  }
  SECTION("quantized weights") {
    j["quantization_config"] = {{"quant_method", "gptq"}};
    REQUIRE_ERROR(parse(j), "key 'quantization_config': quantized checkpoints are not supported");
  }
  SECTION("another architecture") {
    j["model_type"] = "gpt2";
    REQUIRE_ERROR(parse(j), "key 'model_type': 'gpt2' is not supported");
  }
  SECTION("layer_types of the wrong length") {
    j["sliding_window"] = 8;
    j["layer_types"] = {"full_attention"};
    REQUIRE_ERROR(parse(j), "key 'layer_types': must list one entry per layer (4)");
  }
  SECTION("odd head_dim") {
    j["head_dim"] = 15;
    REQUIRE_ERROR(parse(j), "key 'head_dim': must be even");
  }
}

TEST_CASE("config files are read from a directory or a path", "[io][config]") {
  TempDir dir;
  write_text(dir / "config.json", base("mistral").dump());
  CHECK(read_transformer_config(dir.path()).model_type == "mistral");
  CHECK(read_transformer_config(dir / "config.json").num_layers == 4);
  REQUIRE_ERROR(read_transformer_config(dir / "missing"), "missing: no such model directory or config file");
  write_text(dir / "config.json", "{\"model_type\": ");
  REQUIRE_ERROR(read_transformer_config(dir.path()), "config.json: not valid JSON");
}
