// Memory sizing of a batch: weights once, per sequence its state and an activation allowance.
#include <torch/torch.h>

#include "catch.h"
#include "infer/memory_budget.h"
#include "model/inference_state.h"
#include "random_models.h"

using namespace hybridize;
using hybridize::testing::small_config;

TEST_CASE("the batch that fits a budget is the budget less the weights over the bytes per sequence", "[infer]") {
  auto config = small_config();
  config.ssm = model::mil_ssm_config(config, 8);
  const auto layout = model::Layout::parse("AMIA", 4, "test");
  const auto estimate = infer::estimate_memory(config, layout, 100, at::kFloat);
  // The weights are what a real model of this layout holds.
  model::CausalLM real(config, layout, at::TensorOptions().dtype(at::kFloat));
  int64_t real_bytes = 0;
  for (const auto& p : real->parameters()) real_bytes += p.nbytes();
  CHECK(estimate.weight_bytes == real_bytes);
  CHECK(estimate.state_bytes_per_sequence == model::inference_state_bytes_per_sequence(config, layout, 100, at::kFloat));
  // The allowance by its formula: 100 tokens x (2 x hidden + the widest layer transient, here Mamba's
  // in_proj (2 x 32 + 2 x 16 + 2 rows) + 3 x d_inner in fp32 + fp32 x and delta) + logits and sampling.
  const int64_t widest = std::max<int64_t>({3 * 48 * 4, (2 * 4 + 2 * 2) * 8 * 4, (98 + 3 * 32) * 4 + 2 * 32 * 4});
  CHECK(estimate.activation_bytes_per_sequence == 100 * (2 * 32 * 4 + widest) + 61 * (4 + 16));

  const int64_t per_sequence = estimate.bytes_per_sequence();
  CHECK(infer::max_batch_for_memory(config, layout, 100, at::kFloat, estimate.weight_bytes + 3 * per_sequence) == 3);
  CHECK(infer::max_batch_for_memory(config, layout, 100, at::kFloat, estimate.weight_bytes + 4 * per_sequence - 1) == 3);
  CHECK(infer::max_batch_for_memory(config, layout, 100, at::kFloat, estimate.weight_bytes) == 0);
  // At a long length, Mamba layers (fixed state) leave room for more sequences than attention (a
  // growing cache), with an MLP as wide as real models' (4 x hidden).
  auto wide = small_config({{"intermediate_size", 128}});
  wide.ssm = model::mil_ssm_config(wide, 8);
  const int64_t budget = int64_t(1) << 30;
  CHECK(infer::max_batch_for_memory(wide, model::Layout::parse("MMMM", 4, "test"), 8192, at::kBFloat16, budget) >
        infer::max_batch_for_memory(wide, model::Layout::all_attention(4), 8192, at::kBFloat16, budget));
}
