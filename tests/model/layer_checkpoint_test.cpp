// Activation checkpointing and the autocast region: a checkpointed hybrid's
// gradients equal the plain run's, with and without bf16 autocast and with
// only some parameters training (on the CPU, and on CUDA in the GPU preset);
// the region restores the state it found.
#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include "model/autocast_region.h"
#include "model/mil.h"
#include "model/weights.h"
#include "reference_models.h"

using namespace hybridize;
using hybridize::testing::reference_io;
using hybridize::testing::reference_model;

namespace {

struct Hybrid {
  model::CausalLM model{nullptr};
  at::Tensor ids;
};

// The mistral reference (2 layers) as a Mamba + attention hybrid, fp32.
Hybrid mistral_hybrid() {
  const auto dir = reference_model("mistral");
  auto teacher = model::load_causal_lm(dir);
  auto student = model::derive_hybrid(*teacher, model::Layout::parse("MA", 2, "test"),
                                      model::mil_ssm_config(teacher->config, /*d_state=*/8), 3);
  return {student, reference_io(dir).first};
}

// Every parameter's gradient (undefined where none arrived) after a next-token loss.
std::map<std::string, at::Tensor> gradients(model::CausalLM& model, const at::Tensor& ids, bool checkpoint,
                                            model::AutocastState autocast) {
  model->zero_grad();
  model->model->checkpoint_layers = checkpoint;
  at::Tensor logits;
  {
    const model::AutocastRegion region(ids.device().type(), autocast);
    logits = model(ids);
  }
  torch::nn::functional::cross_entropy(logits.to(at::kFloat).flatten(0, 1), ids.flatten()).backward();
  std::map<std::string, at::Tensor> out;
  for (const auto& item : model->named_parameters())
    out[item.key()] = item.value().grad().defined() ? item.value().grad().clone() : at::Tensor();
  return out;
}

void require_same_gradients(const std::map<std::string, at::Tensor>& expected,
                            const std::map<std::string, at::Tensor>& actual, double rtol, double atol = 1e-7) {
  int64_t compared = 0;
  for (const auto& [name, grad] : expected) {
    INFO(name);
    REQUIRE(grad.defined() == actual.at(name).defined());
    if (!grad.defined()) continue;
    CHECK(torch::allclose(actual.at(name), grad, rtol, atol));
    ++compared;
  }
  CHECK(compared > 0);
}

}  // namespace

TEST_CASE("a checkpointed hybrid gets the gradients of the plain run", "[model][checkpoint]") {
  auto hybrid = mistral_hybrid();
  const model::AutocastState fp32{false, at::kBFloat16};
  SECTION("every parameter trains") {
    const auto plain = gradients(hybrid.model, hybrid.ids, false, fp32);
    require_same_gradients(plain, gradients(hybrid.model, hybrid.ids, true, fp32), 1e-6);
  }
  SECTION("only the Mamba mixer trains: the first layer's input needs no gradient") {
    for (auto& item : hybrid.model->named_parameters())
      item.value().set_requires_grad(item.key().find(".mixer.") != std::string::npos);
    const auto plain = gradients(hybrid.model, hybrid.ids, false, fp32);
    CHECK_FALSE(plain.at("model.layers.1.mlp.up_proj.weight").defined());
    require_same_gradients(plain, gradients(hybrid.model, hybrid.ids, true, fp32), 1e-6);
  }
  SECTION("under bf16 autocast the recomputation runs in bf16 too") {
    const model::AutocastState bf16{true, at::kBFloat16};
    const auto plain = gradients(hybrid.model, hybrid.ids, false, bf16);
    require_same_gradients(plain, gradients(hybrid.model, hybrid.ids, true, bf16), 1e-5);
    // ...and bf16 differs from fp32: the comparison above could tell them apart.
    const auto full = gradients(hybrid.model, hybrid.ids, false, fp32);
    const auto& name = "model.layers.0.mixer.in_proj.weight";
    CHECK_FALSE(torch::allclose(full.at(name), plain.at(name), 1e-5, 1e-7));
  }
}

TEST_CASE("checkpointed layers keep only their input: one recompute node per layer", "[model][checkpoint]") {
  auto hybrid = mistral_hybrid();
  auto& stack = *hybrid.model->model;
  auto context = stack.context(hybrid.ids.size(1), at::kFloat, at::kCPU);
  stack.checkpoint_layers = true;
  const auto hidden = stack.run_layers(stack.embed(hybrid.ids), 0, 2, context);
  REQUIRE(hidden.grad_fn());
  CHECK(hidden.grad_fn()->name() == "RecomputeLayer");
  // The node's first edge is the previous layer's output: another recompute node.
  CHECK(hidden.grad_fn()->next_edge(0).function->name() == "RecomputeLayer");
  {
    const torch::NoGradGuard no_grad;
    CHECK_FALSE(stack.run_layers(stack.embed(hybrid.ids), 0, 2, context).requires_grad());
  }
  stack.checkpoint_layers = false;
  CHECK(stack.run_layers(stack.embed(hybrid.ids), 0, 2, context).grad_fn()->name() != "RecomputeLayer");
}

TEST_CASE("an autocast region runs matmuls in bf16 and restores the state it found", "[model][checkpoint]") {
  const auto a = torch::randn({4, 8}), b = torch::randn({3, 8});
  REQUIRE_FALSE(at::autocast::is_autocast_enabled(at::kCPU));
  {
    const model::AutocastRegion on(at::kCPU, {true, at::kBFloat16});
    CHECK(at::linear(a, b).scalar_type() == at::kBFloat16);
    {
      const model::AutocastRegion off(at::kCPU, {false, at::kBFloat16});
      CHECK(at::linear(a, b).scalar_type() == at::kFloat);
    }
    CHECK(at::autocast::is_autocast_enabled(at::kCPU));
  }
  CHECK_FALSE(at::autocast::is_autocast_enabled(at::kCPU));
  CHECK(at::linear(a, b).scalar_type() == at::kFloat);
}

TEST_CASE("on CUDA a checkpointed hybrid under bf16 autocast gets the plain run's gradients", "[cuda][checkpoint]") {
  auto hybrid = mistral_hybrid();
  hybrid.model->to(at::kCUDA);
  const auto ids = hybrid.ids.to(at::kCUDA);
  const model::AutocastState bf16{true, at::kBFloat16};
  const auto plain = gradients(hybrid.model, ids, false, bf16);
  // The same kernels on the same inputs; a bf16 ulp of slack for any atomics in them.
  require_same_gradients(plain, gradients(hybrid.model, ids, true, bf16), 1e-2, 1e-4);
  for (const auto& item : hybrid.model->named_parameters()) CHECK(item.value().scalar_type() == at::kFloat);
}
