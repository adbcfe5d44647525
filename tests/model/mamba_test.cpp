// The m2 Mamba mixer in a model: MIL initialisation, hybrid derivation,
// Apriel-H export/import, and what is refused.
#include <torch/torch.h>

#include "core/json_file.h"
#include "gradients.h"
#include "io/checkpoint_files.h"
#include "io/torch_tensors.h"
#include "model/mil.h"
#include "model/weights.h"
#include "reference_models.h"
#include "temp_dir.h"

using namespace hybridize;
using hybridize::testing::reference_io;
using hybridize::testing::reference_model;
using hybridize::testing::TempDir;

namespace {
// The mistral reference: 4 heads of 24, 1 KV head -> d_inner 96, d_xb 24.
struct Teacher {
  model::CausalLM model;
  at::Tensor ids;
};
Teacher mistral_teacher() {
  const auto dir = reference_model("mistral");
  auto [ids, logits] = reference_io(dir);
  return {model::load_causal_lm(dir), ids};
}
io::SsmConfig small_ssm(const io::TransformerConfig& config) { return model::mil_ssm_config(config, /*d_state=*/8); }
// The teacher's config.json turned into an Apriel-H one with these blocks.
nlohmann::json apriel_config(const io::TransformerConfig& config, const nlohmann::json& blocks) {
  auto j = io::to_hf_json(config);
  j["model_type"] = "apriel_hybrid_ssm";
  j["hybrid_block_layout"] = blocks;
  return j;
}
}  // namespace

TEST_CASE("MIL copies v, k, q and o into the mixer and initialises the rest as the reference does", "[model][mamba]") {
  auto teacher = mistral_teacher();
  const auto& config = teacher.model->config;
  const auto ssm = small_ssm(config);
  CHECK(ssm.d_inner == 96);
  CHECK(ssm.d_xb == 24);
  CHECK(ssm.dt_rank == 4);  // ceil(64 / 16)
  auto student = model::derive_hybrid(*teacher.model, model::Layout::parse("MA", 2, "test"), ssm, 7);
  auto& mamba = static_cast<model::Mamba&>(*student->model->layers[0]->mixer);
  auto& attention = static_cast<model::Attention&>(*teacher.model->model->layers[0]->mixer);
  const auto& w = mamba.in_proj->weight;
  REQUIRE(w.size(0) == 2 * 96 + 2 * 24 + 4);
  CHECK(torch::equal(w.narrow(0, 96, 24), attention.v_proj->weight));       // x <- v
  CHECK(torch::equal(w.narrow(0, 96 + 24, 24), attention.k_proj->weight));  // B <- k
  CHECK(torch::equal(w.narrow(0, 96 + 48, 96), attention.q_proj->weight));  // C <- q
  CHECK(torch::equal(mamba.out_proj->weight, attention.o_proj->weight));
  // z and dt rows keep the nn.Linear default: U(-1/sqrt(64), 1/sqrt(64)), not zeros.
  const auto z_rows = w.narrow(0, 0, 96), dt_rows = w.narrow(0, 2 * 96 + 48, 4);
  CHECK(z_rows.abs().max().item<double>() <= 0.125);
  CHECK(z_rows.std().item<double>() > 0.05);
  CHECK(dt_rows.abs().max().item<double>() <= 0.125);
  // dt_proj: weight U(+-dt_rank^-0.5), softplus(bias) log-uniform in [dt_min, dt_max].
  CHECK(mamba.dt_proj->weight.abs().max().item<double>() <= 0.5);
  const auto dt = torch::softplus(mamba.dt_proj->bias);
  CHECK(dt.min().item<double>() >= 0.001 * 0.999);
  CHECK(dt.max().item<double>() <= 0.1 * 1.001);
  CHECK(torch::allclose(mamba.A_log, torch::log(torch::arange(1, 9, torch::kFloat)).expand({96, 8})));
  CHECK(torch::equal(mamba.D, torch::ones({96})));
  CHECK(mamba.conv1d->weight.sizes() == at::IntArrayRef({96, 1, 4}));  // repeat_kv_before_conv: d_inner channels
  CHECK(mamba.conv1d->weight.abs().max().item<double>() <= 0.5);
  // The rest of the converted layer comes from the teacher.
  auto& teacher_layer = *teacher.model->model->layers[0];
  auto& student_layer = *student->model->layers[0];
  CHECK(torch::equal(student_layer.mlp->gate_proj->weight, teacher_layer.mlp->gate_proj->weight));
  CHECK(torch::equal(student_layer.input_layernorm->weight, teacher_layer.input_layernorm->weight));
  CHECK(torch::equal(student_layer.post_attention_layernorm->weight, teacher_layer.post_attention_layernorm->weight));
  // The same seed gives the same student; another seed another one.
  auto again = model::derive_hybrid(*teacher.model, model::Layout::parse("MA", 2, "test"), ssm, 7);
  auto other = model::derive_hybrid(*teacher.model, model::Layout::parse("MA", 2, "test"), ssm, 8);
  const auto& again_w = static_cast<model::Mamba&>(*again->model->layers[0]->mixer).in_proj->weight;
  const auto& other_w = static_cast<model::Mamba&>(*other->model->layers[0]->mixer).in_proj->weight;
  CHECK(torch::equal(again_w, w));
  CHECK_FALSE(torch::equal(other_w.narrow(0, 0, 96), z_rows));
}

TEST_CASE("a hybrid is causal, runs forward and backward, and every parameter gets a gradient", "[model][mamba]") {
  auto teacher = mistral_teacher();
  auto student =
      model::derive_hybrid(*teacher.model, model::Layout::parse("MA", 2, "test"), small_ssm(teacher.model->config), 1);
  const auto logits = student(teacher.ids);
  REQUIRE(logits.sizes() == at::IntArrayRef({2, 13, 96}));
  // Changing the last tokens must not change earlier positions.
  auto changed = teacher.ids.clone();
  changed.narrow(1, 8, 5).fill_(3);
  const auto changed_logits = student(changed);
  CHECK(torch::allclose(changed_logits.narrow(1, 0, 8), logits.narrow(1, 0, 8), 1e-6, 1e-6));
  CHECK_FALSE(torch::allclose(changed_logits.narrow(1, 8, 5), logits.narrow(1, 8, 5), 1e-3, 1e-3));
  hybridize::testing::require_gradient_in_every_parameter(student, teacher.ids);
}

TEST_CASE("Apriel-H export and import round-trip bit-identical weights and identical logits", "[model][mamba]") {
  auto teacher = mistral_teacher();
  auto student =
      model::derive_hybrid(*teacher.model, model::Layout::parse("MA", 2, "test"), small_ssm(teacher.model->config), 3);
  TempDir dir;
  for (const auto layout : {model::AprielLayout::Split, model::AprielLayout::Fused})
    for (uint64_t shard_bytes : {uint64_t(5) << 30, uint64_t(64) << 10}) {
      const bool split = layout == model::AprielLayout::Split;
      INFO("max shard bytes " << shard_bytes << (split ? ", split" : ", fused"));
      const auto out = dir / ("hybrid-" + std::to_string(shard_bytes) + (split ? "-split" : "-fused"));
      model::save_causal_lm(*student, out, {shard_bytes, layout});
      // The layouts by their tensors: in_proj [z|x|B|C] (2 x 96 + 2 x 24 rows) beside dt_in_proj
      // [dt_rank = 4, hidden 64], or in_proj with the dt rows after them.
      const io::CheckpointFiles files(out);
      const auto& in_proj = files.locate("model.layers.0.mixer.in_proj.weight").entry->shape;
      CHECK(in_proj == std::vector<int64_t>{split ? 240 : 244, 64});
      CHECK(files.contains("model.layers.0.mixer.dt_in_proj.weight") == split);
      if (split) {
        CHECK(files.locate("model.layers.0.mixer.dt_in_proj.weight").entry->shape == std::vector<int64_t>{4, 64});
        const auto fused_rows = student->named_parameters()["model.layers.0.mixer.in_proj.weight"];
        CHECK(torch::equal(io::tensor_view(files.locate("model.layers.0.mixer.dt_in_proj.weight")),
                           fused_rows.narrow(0, 240, 4)));
      }
      const auto config = read_json_file(out / "config.json");
      CHECK(config["model_type"] == "apriel_hybrid_ssm");
      CHECK(config["hybrid_block_layout"] == nlohmann::json({"m2", "t"}));
      CHECK(config["ssm_cfg"]["d_xb"] == 24);
      CHECK(config["ssm_cfg"]["d_inner"] == 96);
      // What Fast-LLM's current config class derives and HF's trust_remote_code looks up.
      CHECK(config["layer_types"] == nlohmann::json({"mamba2", "full_attention"}));
      CHECK(config["auto_map"]["AutoModelForCausalLM"] == "modeling_apriel_hybrid_ssm.AprielHybridSSMForCausalLM");
      CHECK(config.contains("linear_attn_config"));
      CHECK(std::filesystem::exists(out / "model.safetensors.index.json") == (shard_bytes < 1000000));
      auto loaded = model::load_causal_lm(out);
      CHECK(loaded->layout.to_string() == "MA");
      const auto original = student->named_parameters();
      for (const auto& item : loaded->named_parameters()) {
        INFO(item.key());
        REQUIRE(original.contains(item.key()));
        CHECK(torch::equal(item.value(), original[item.key()]));
      }
      CHECK(loaded->named_parameters().size() == original.size());
      torch::NoGradGuard no_grad;
      CHECK(torch::equal(loaded(teacher.ids), student(teacher.ids)));
    }
  // Export rewrites a checkpoint into the other layout bit for bit, and back.
  model::rewrite_apriel_checkpoint(dir / "hybrid-65536-split", dir / "as-fused", model::AprielLayout::Fused);
  model::rewrite_apriel_checkpoint(dir / "as-fused", dir / "split-again", model::AprielLayout::Split);
  for (const auto& [made, direct] :
       {std::pair{"as-fused", "hybrid-65536-fused"}, {"split-again", "hybrid-65536-split"}}) {
    const io::CheckpointFiles a(dir / made), b(dir / direct);
    REQUIRE(a.names() == b.names());
    for (const auto& name : a.names()) {
      INFO(made << ": " << name);
      CHECK(torch::equal(io::tensor_view(a.locate(name)), io::tensor_view(b.locate(name))));
    }
  }
  // A split in_proj without its dt_in_proj fits neither layout: refused naming the tensor.
  {
    const io::CheckpointFiles split(dir / "hybrid-65536-split");
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    for (const auto& name : split.names())
      if (name.find("dt_in_proj") == std::string::npos) tensors.emplace_back(name, io::tensor_view(split.locate(name)));
    model::write_checkpoint(read_json_file(dir / "hybrid-65536-split" / "config.json"), tensors, dir / "no-dt",
                            5ull << 30);
    REQUIRE_ERROR(
        model::load_causal_lm(dir / "no-dt"),
        "tensor 'model.layers.0.mixer.in_proj.weight' has shape [240, 64] but the model config needs [244, 64] (an "
        "Apriel-H m2 in_proj holds rows [z|x|B|C|dt], or [z|x|B|C] beside mixer.dt_in_proj.weight)");
  }
  // Saving again over an existing checkpoint replaces it whole.
  model::save_causal_lm(*teacher.model, dir / "hybrid-65536-split");
  CHECK_FALSE(std::filesystem::exists(dir / "hybrid-65536-split" / "model.safetensors.index.json"));
  CHECK(model::load_causal_lm(dir / "hybrid-65536-split")->layout.to_string() == "AA");
}

TEST_CASE("a teacher exported keeps its family and its logits", "[model]") {
  auto teacher = mistral_teacher();
  TempDir dir;
  model::save_causal_lm(*teacher.model, dir / "teacher");
  CHECK(read_json_file(dir / "teacher" / "config.json")["model_type"] == "mistral");
  CHECK(read_json_file(dir / "teacher" / "config.json")["sliding_window"] == 5);
  torch::NoGradGuard no_grad;
  CHECK(torch::equal(model::load_causal_lm(dir / "teacher")(teacher.ids), teacher.model(teacher.ids)));
}

TEST_CASE("inconsistent SSM settings and unsupported hybrid layouts are refused naming the key",
          "[model][mamba][bad-input]") {
  auto teacher = mistral_teacher();
  const auto& config = teacher.model->config;
  auto ssm = small_ssm(config);
  SECTION("MIL with a d_inner unlike the attention's") {
    ssm.d_inner = 48;
    REQUIRE_ERROR(model::derive_hybrid(*teacher.model, model::Layout::parse("MA", 2, "test"), ssm, 1),
                  "key 'ssm_cfg.d_inner' is 48 but the attention's q_proj is 96 wide");
  }
  SECTION("d_xb that does not divide d_inner") {
    auto j = apriel_config(config, {"m2", "t"});
    j["ssm_cfg"] = {{"d_state", 8}, {"d_inner", 96}, {"d_xb", 40}};
    REQUIRE_ERROR(io::parse_transformer_config(j, "config.json"),
                  "config.json: key 'ssm_cfg.d_xb': 40 does not divide d_inner 96");
  }
  SECTION("m2 layers without ssm_cfg") {
    REQUIRE_ERROR(io::parse_transformer_config(apriel_config(config, {"m2", "t"}), "config.json"),
                  "key 'ssm_cfg': missing, but hybrid_block_layout has m2 layers");
  }
  SECTION("a layout of the wrong length") {
    REQUIRE_ERROR(io::parse_transformer_config(apriel_config(config, {"t"}), "config.json"),
                  "key 'hybrid_block_layout': must list one block type per layer (2)");
  }
  SECTION("Fast-LLM's whole-block identity") {
    REQUIRE_ERROR(io::parse_transformer_config(apriel_config(config, {"i", "t"}), "config.json"),
                  "layer 0 has block type 'i' (supported: t, m2)");
    REQUIRE_ERROR(io::parse_transformer_config(apriel_config(config, {"m2d", "t"}), "config.json"),
                  "layer 0 has block type 'm2d' (supported: t, m2)");
    auto typed = apriel_config(config, {"m2", "t"});
    typed["layer_types"] = {"full_attention", "full_attention"};
    REQUIRE_ERROR(io::parse_transformer_config(typed, "config.json"),
                  "key 'layer_types': layer 0 is \"full_attention\" but hybrid_block_layout says 'm2' (mamba2)");
  }
  SECTION("an ablation layout cannot be exported") {
    auto ablated = model::derive_hybrid(*teacher.model, model::Layout::parse("IA", 2, "test"), ssm, 1);
    TempDir dir;
    REQUIRE_ERROR(model::save_causal_lm(*ablated, dir / "x"),
                  "layer 0 is identity, which Apriel-H checkpoints cannot store");
  }
  SECTION("Mamba layers without SSM settings") {
    REQUIRE_ERROR(model::CausalLM(config, model::Layout::parse("MA", 2, "test"), at::TensorOptions()),
                  "layer 0 is Mamba but the model config has no SSM settings");
  }
}
