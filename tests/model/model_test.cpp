// Model construction, layouts, weight loading and its errors, size figures.
#include <torch/torch.h>

#include "core/json_file.h"
#include "gradients.h"
#include "model/attention.h"
#include "model/autocast_region.h"
#include "model/linear.h"
#include "model/summary.h"
#include "model/weights.h"
#include "reference_models.h"
#include "temp_dir.h"

using namespace hybridize;
using hybridize::testing::reference_io;
using hybridize::testing::reference_model;
using hybridize::testing::TempDir;
using hybridize::testing::write_text;

namespace {
// A copy of a reference model directory that a test may damage.
std::filesystem::path copy_model(const std::string& family, const TempDir& dir) {
  const auto target = dir / family;
  copy_tree(reference_model(family), target);
  return target;
}

io::TransformerConfig apriel_15b_shape() {
  // The shape of Apriel-Nemotron-15B-Thinker (MistralForCausalLM): 50 layers, GQA 32/8.
  nlohmann::json j = {{"model_type", "mistral"},     {"vocab_size", 131072},
                      {"hidden_size", 5120},         {"intermediate_size", 14336},
                      {"num_hidden_layers", 50},     {"num_attention_heads", 32},
                      {"num_key_value_heads", 8},    {"head_dim", 128},
                      {"rope_theta", 1e6},           {"max_position_embeddings", 65536},
                      {"tie_word_embeddings", false}};
  return io::parse_transformer_config(j, "apriel-15b");
}
}  // namespace

TEST_CASE("layouts parse one letter a layer and refuse anything else naming the source", "[model]") {
  const auto layout = model::Layout::parse("AIA", 3, "--layout");
  CHECK(layout[1] == model::MixerKind::Identity);
  CHECK(layout.count(model::MixerKind::Attention) == 2);
  CHECK(layout.to_string() == "AIA");
  REQUIRE_ERROR(model::Layout::parse("AA", 3, "--layout"), "--layout: layout 'AA' has 2 layers but the model has 3");
  REQUIRE_ERROR(model::Layout::parse("AXA", 3, "plan.layout"),
                "plan.layout: layout 'AXA' has unknown mixer letter 'X' at layer 1");
}

TEST_CASE("an identity layer equals its attention layer with the output projection zeroed", "[model]") {
  torch::NoGradGuard no_grad;
  const auto dir = reference_model("llama");
  auto [ids, expected] = reference_io(dir);
  auto ablated = model::load_causal_lm(dir, {at::kFloat, at::kCPU, model::Layout::parse("AIA", 3, "test")});
  auto full = model::load_causal_lm(dir);
  auto& attention = static_cast<model::Attention&>(*full->model->layers[1]->mixer);
  attention.o_proj->weight.zero_();
  attention.o_proj->bias.zero_();
  const auto ablated_logits = ablated(ids);
  CHECK(torch::allclose(ablated_logits, full(ids), 1e-5, 1e-5));
  // ...and dropping the layer's attention really changes the output.
  CHECK((ablated_logits - expected).abs().max().item<double>() > 1e-2);
  // The ablated model has no parameters for the removed mixer.
  for (const auto& item : ablated->named_parameters())
    CHECK(item.key().find("layers.1.self_attn") == std::string::npos);
}

TEST_CASE("a model runs forward and backward and gets gradients in every parameter", "[model]") {
  const auto dir = reference_model("mistral");
  auto [ids, expected] = reference_io(dir);
  auto model = model::load_causal_lm(dir);
  hybridize::testing::require_gradient_in_every_parameter(model, ids);
}

TEST_CASE("loading refuses a checkpoint that disagrees with its config, naming the tensor", "[model][bad-input]") {
  TempDir dir;
  SECTION("shape mismatch") {
    const auto model_dir = copy_model("mistral", dir);
    auto config = read_json_file(model_dir / "config.json");
    config["intermediate_size"] = 128;
    write_text(model_dir / "config.json", config.dump());
    REQUIRE_ERROR(model::load_causal_lm(model_dir),
                  "model.safetensors: tensor 'model.layers.0.mlp.gate_proj.weight' has shape [160, 64] but the model "
                  "config needs [128, 64]");
  }
  SECTION("missing tensor") {
    const auto model_dir = copy_model("mistral", dir);
    const auto file = io::SafetensorsFile::open(model_dir / "model.safetensors");
    std::vector<std::pair<std::string, at::Tensor>> kept;
    for (const auto& entry : file->entries())
      if (entry.name != "model.layers.1.mlp.up_proj.weight")
        kept.emplace_back(entry.name, io::tensor_view({file, &entry}));
    io::save_tensors(model_dir / "model.safetensors", kept);
    REQUIRE_ERROR(model::load_causal_lm(model_dir), "checkpoint has no tensor 'model.layers.1.mlp.up_proj.weight'");
  }
  SECTION("integer weights") {
    const auto model_dir = copy_model("qwen2", dir);
    const auto file = io::SafetensorsFile::open(model_dir / "model.safetensors");
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    for (const auto& entry : file->entries()) {
      auto tensor = io::tensor_view({file, &entry});
      if (entry.name == "model.norm.weight") tensor = tensor.to(at::kInt);
      tensors.emplace_back(entry.name, tensor);
    }
    io::save_tensors(model_dir / "model.safetensors", tensors);
    REQUIRE_ERROR(model::load_causal_lm(model_dir),
                  "tensor 'model.norm.weight' has dtype I32 where a floating-point weight is needed");
  }
  SECTION("config with inconsistent heads") {
    const auto model_dir = copy_model("llama", dir);
    auto config = read_json_file(model_dir / "config.json");
    config["num_key_value_heads"] = 3;
    write_text(model_dir / "config.json", config.dump());
    REQUIRE_ERROR(model::load_causal_lm(model_dir),
                  "config.json: key 'num_key_value_heads': 3 does not divide num_attention_heads 4");
  }
}

TEST_CASE("tensors saved and viewed back are bit-identical in every float dtype", "[io]") {
  TempDir dir;
  const auto base = torch::randn({3, 5}, torch::kFloat);
  std::vector<std::pair<std::string, at::Tensor>> tensors = {{"f32", base},
                                                             {"bf16", base.to(at::kBFloat16)},
                                                             {"f16", base.to(at::kHalf)},
                                                             {"i64", torch::arange(7)},
                                                             {"strided", base.t()}};
  io::save_tensors(dir / "t.safetensors", tensors, {{"format", "pt"}});
  const auto file = io::SafetensorsFile::open(dir / "t.safetensors");
  for (const auto& [name, tensor] : tensors) {
    INFO(name);
    const auto back = io::tensor_view({file, &file->entry(name)});
    CHECK(back.scalar_type() == tensor.scalar_type());
    CHECK(torch::equal(back, tensor.contiguous()));
  }
}

TEST_CASE("a 15B-shaped model is described on the meta device without memory", "[model]") {
  const auto config = apriel_15b_shape();
  const auto layout = model::Layout::all_attention(config.num_layers);
  model::CausalLM described(config, layout, at::TensorOptions().dtype(at::kBFloat16).device(at::kMeta));
  const auto counts = model::count_parameters(*described);
  const int64_t h = 5120, q = 32 * 128, kv = 8 * 128, ffn = 14336, vocab = 131072;
  CHECK(counts.attention == 50 * (h * q + 2 * h * kv + q * h));
  CHECK(counts.mlp == 50 * 3 * h * ffn);
  CHECK(counts.embeddings == vocab * h);
  CHECK(counts.lm_head == vocab * h);
  CHECK(counts.norms == (2 * 50 + 1) * h);
  CHECK(counts.total() > 14'900'000'000);
  CHECK(counts.total() < 15'100'000'000);
  const auto per_layer = model::parameters_per_layer(*described);
  CHECK(per_layer.size() == 50);
  CHECK(per_layer[7] == h * q + 2 * h * kv + q * h + 3 * h * ffn + 2 * h);
  // K and V, 8 heads of 128, 2 bytes, 50 layers: 200 KiB a token.
  CHECK(model::kv_cache_bytes_per_token(config, layout, at::kBFloat16) == 50 * 2 * 8 * 128 * 2);
  const auto half = model::Layout::parse(std::string(25, 'A') + std::string(25, 'I'), 50, "test");
  CHECK(model::kv_cache_bytes_per_token(config, half, at::kBFloat16) == 25 * 2 * 8 * 128 * 2);
}

TEST_CASE("on CUDA under bf16 autocast a linear layer's weight gradient keeps fp32 accumulation", "[cuda][model]") {
  REQUIRE(torch::cuda::is_available());
  torch::manual_seed(14);
  const auto options = torch::TensorOptions().device(at::kCUDA);
  for (const bool has_bias : {false, true}) {
    INFO("bias " << has_bias);
    model::Linear linear(256, 96, has_bias, options);
    torch::nn::init::normal_(linear->weight, 0, 0.05);
    if (has_bias) torch::nn::init::normal_(linear->bias, 0, 0.05);
    const auto input = torch::randn({2, 512, 256}, options).to(at::kBFloat16).requires_grad_(true);
    at::Tensor output;
    {
      const model::AutocastRegion autocast(at::kCUDA, {true, at::kBFloat16});
      output = linear(input);
    }
    const auto grad = torch::randn(output.sizes(), options).to(at::kBFloat16);
    output.backward(grad);
    CHECK(output.scalar_type() == at::kBFloat16);
    CHECK(linear->weight.grad().scalar_type() == at::kFloat);

    // In double from the same bf16 operands, as autocast rounds them.
    const auto x = input.detach().to(at::kDouble).reshape({-1, 256});
    const auto w = linear->weight.detach().to(at::kBFloat16).to(at::kDouble);
    const auto g = grad.to(at::kDouble).reshape({-1, 96});
    auto expected = at::mm(x, w.t());
    if (has_bias) expected = expected + linear->bias.detach().to(at::kBFloat16).to(at::kDouble);
    const auto relative = [](const at::Tensor& a, const at::Tensor& b) {
      return ((a.to(at::kDouble) - b).norm() / b.norm()).item<double>();
    };
    CHECK(relative(output.reshape({-1, 96}), expected) < 1e-2);
    CHECK(relative(input.grad().reshape({-1, 256}), at::mm(g, w)) < 1e-2);
    // A weight gradient rounded to bf16 would be about 2e-3 off; summed in fp32, it is exact to fp32.
    CHECK(relative(linear->weight.grad(), at::mm(g.t(), x)) < 1e-5);
    if (has_bias) CHECK(relative(linear->bias.grad(), g.sum(0)) < 1e-5);
  }
}
