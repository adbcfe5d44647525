// Logits parity with HF transformers on Llama, Mistral and Qwen2 checkpoints, and
// with an independent m2 reference on Apriel-H hybrids.
#include <torch/torch.h>

#include <cstdio>

#include "io/torch_tensors.h"
#include "model/weights.h"
#include "reference_models.h"
#include "temp_dir.h"

using namespace hybridize;
using hybridize::testing::reference_io;
using hybridize::testing::reference_model;
using hybridize::testing::TempDir;

namespace {
const char* const kFamilies[] = {"llama", "mistral", "qwen2"};
}

TEST_CASE("fp32 logits on CPU match HF transformers to 1e-4", "[parity]") {
  torch::NoGradGuard no_grad;
  for (const char* family : kFamilies) {
    INFO("model: " << family);
    const auto dir = reference_model(family);
    auto [ids, expected] = reference_io(dir);
    auto model = model::load_causal_lm(dir, {at::kFloat, at::kCPU, std::nullopt});
    const auto logits = model(ids);
    REQUIRE(logits.sizes() == expected.sizes());
    const double max_error = (logits - expected).abs().max().item<double>();
    INFO("max abs error " << max_error << ", logits scale " << expected.abs().max().item<double>());
    CHECK(max_error < 1e-4);
    // The reference is not trivially matched: the logits vary well beyond the tolerance.
    CHECK(expected.std().item<double>() > 0.1);
  }
}

TEST_CASE("Apriel-H hybrids in both m2 layouts match an independent reference to 1e-4 and round-trip bit for bit",
          "[parity][mamba]") {
  // tests/reference/apriel_reference.py: the m2 mixer from its published math, with mamba-ssm's and
  // causal-conv1d's pure-PyTorch scan and convolution, inside HF transformers' Mistral layers.
  torch::NoGradGuard no_grad;
  TempDir dir;
  for (const auto layout : {model::AprielLayout::Split, model::AprielLayout::Fused}) {
    const std::string name = layout == model::AprielLayout::Split ? "apriel-split" : "apriel-fused";
    INFO("checkpoint: " << name);
    const auto source = reference_model(name);
    auto [ids, expected] = reference_io(source);
    auto model = model::load_causal_lm(source, {at::kFloat, at::kCPU, std::nullopt});
    CHECK(model->layout.to_string() == "MAM");
    const double max_error = (model(ids) - expected).abs().max().item<double>();
    INFO("max abs error " << max_error << ", logits scale " << expected.abs().max().item<double>());
    CHECK(max_error < 1e-4);
    CHECK(expected.std().item<double>() > 0.1);
    // import -> export -> import: the same tensors, bit for bit, under the same names.
    model::save_causal_lm(*model, dir / name, {5ull << 30, layout});
    const io::CheckpointFiles original(source), exported(dir / name);
    REQUIRE(exported.names() == original.names());
    for (const auto& tensor : original.names()) {
      INFO(tensor);
      CHECK(torch::equal(io::tensor_view(exported.locate(tensor)), io::tensor_view(original.locate(tensor))));
    }
  }
}

TEST_CASE("bf16 and fp16 logits on the GPU match HF's fp32 logits to 2e-2 relative", "[cuda]") {
  REQUIRE(torch::cuda::is_available());
  torch::NoGradGuard no_grad;
  for (const char* family : kFamilies) {
    for (const auto dtype : {at::kBFloat16, at::kHalf}) {
      INFO("model: " << family << ", dtype " << at::toString(dtype));
      const auto dir = reference_model(family);
      auto [ids, expected] = reference_io(dir);
      auto model = model::load_causal_lm(dir, {dtype, at::kCUDA, std::nullopt});
      const auto logits = model(ids.to(at::kCUDA)).to(at::kCPU, at::kFloat);
      const double relative = ((logits - expected).norm() / expected.norm()).item<double>();
      // Printed for bench/RESULTS.md: the GPU figures are recorded from this output.
      std::printf("gpu parity %-8s %-9s relative error %.3e\n", family, at::toString(dtype), relative);
      CHECK(relative < 2e-2);
    }
    INFO("model: " << family << ", fp32 on GPU");
    const auto dir = reference_model(family);
    auto [ids, expected] = reference_io(dir);
    auto model = model::load_causal_lm(dir, {at::kFloat, at::kCUDA, std::nullopt});
    const auto logits = model(ids.to(at::kCUDA)).to(at::kCPU);
    // TF32 is off by default in LibTorch, so fp32 on GPU stays close to the CPU result.
    const double max_error = (logits - expected).abs().max().item<double>();
    std::printf("gpu parity %-8s %-9s max abs error %.3e\n", family, "Float", max_error);
    CHECK(max_error < 1e-3);
  }
}
