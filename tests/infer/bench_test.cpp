// The throughput bench's plumbing: layouts, shared weights, results (no timing assertions).
#include <torch/torch.h>

#include "catch.h"
#include "infer/bench.h"
#include "random_models.h"

using namespace hybridize;
using hybridize::testing::random_model;
using hybridize::testing::small_config;

TEST_CASE("evenly spaced Mamba layouts spread k layers over the model", "[infer]") {
  CHECK(infer::evenly_spaced_mamba_layout(8, 2).to_string() == "AAMAAAMA");
  CHECK(infer::evenly_spaced_mamba_layout(5, 5).to_string() == "MMMMM");
  CHECK(infer::evenly_spaced_mamba_layout(50, 25).count(model::MixerKind::Mamba) == 25);
  CHECK(infer::evenly_spaced_mamba_layout(4, 0).to_string() == "AAAA");
  REQUIRE_ERROR(infer::evenly_spaced_mamba_layout(4, 5), "Mamba layer count 5 is outside 0..4");
}

TEST_CASE("the bench measures the model and each layout on the model's own tensors", "[infer]") {
  auto teacher = random_model(small_config(), at::kFloat);
  const auto ssm = model::mil_ssm_config(teacher->config, 8);
  infer::BenchSettings settings;
  settings.prompt_length = 6;
  settings.generated_length = 4;
  settings.batch = 3;
  const auto before = teacher->named_parameters();
  const auto results = infer::run_bench(
      *teacher, {model::Layout::parse("AMAM", 4, "test"), model::Layout::parse("IAAA", 4, "test")}, ssm, settings);
  REQUIRE(results.size() == 3);
  CHECK(results[0].layout == "AAAA");
  CHECK(results[1].layout == "AMAM");
  CHECK(results[1].mamba_layers == 2);
  CHECK(results[2].attention_layers == 3);
  for (const auto& r : results) {
    CHECK(r.batch == 3);
    CHECK(r.requests == 6);          // two waves of the batch
    CHECK(r.decode_steps == 2 * 3);  // each wave's 4 tokens: one from prefill, three from steps
    CHECK(r.total_tokens_per_second > 0);
    CHECK(r.prefill_share > 0);
    CHECK(r.prefill_share < 1);
    CHECK(r.prefill_tokens_per_second > 0);
    CHECK(r.decode_tokens_per_second > 0);
    CHECK(r.speedup > 0);
  }
  CHECK(results[0].speedup == 1);
  // 10 tokens: 4 attention layers x K,V x 2 heads x 10 x 8 x fp32; AMAM trades two of them for
  // two Mamba layers' conv window (32 x 4) and SSM state (32 x 8), fp32.
  CHECK(results[0].state_bytes_per_sequence == 4 * 2 * 2 * 10 * 8 * 4);
  CHECK(results[1].state_bytes_per_sequence == 2 * 2 * 2 * 10 * 8 * 4 + 2 * (32 * 4 + 32 * 8) * 4);
  // The teacher's weights are untouched by building and running the layouts.
  for (const auto& item : teacher->named_parameters()) CHECK(torch::equal(item.value(), before[item.key()]));

  // An automatic batch follows the budget, up to the cap; a budget below the weights is refused naming the layout.
  settings.batch = 0;
  settings.memory_budget = int64_t(1) << 30;
  settings.max_batch = 2;
  for (const auto& r : infer::run_bench(*teacher, {model::Layout::parse("MMMM", 4, "test")}, ssm, settings))
    CHECK(r.batch == 2);
  settings.max_batch = 0;
  settings.memory_budget = 1000;
  REQUIRE_ERROR(infer::run_bench(*teacher, {}, ssm, settings),
                "layout 'AAAA' does not fit the memory budget of 1000 bytes");
  // A layout may not give a layer attention the model lacks.
  auto hybrid = hybridize::testing::random_hybrid(*teacher, "MAAA");
  settings.batch = 1;
  REQUIRE_ERROR(infer::run_bench(*hybrid, {model::Layout::parse("AAAA", 4, "test")}, ssm, settings),
                "layer 0 is attention in layout 'AAAA' but the model's layer is mamba");
}
