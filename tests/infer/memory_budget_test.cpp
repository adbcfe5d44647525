// Memory sizing of a batch: weights and one prefill workspace once, per
// sequence its state and its share of a decode step.
#include <torch/torch.h>

#include "catch.h"
#include "infer/memory_budget.h"
#include "model/inference_state.h"
#include "random_models.h"

using namespace hybridize;
using hybridize::testing::small_config;

TEST_CASE("the batch that fits a budget is the budget less weights and workspace over the bytes per sequence",
          "[infer]") {
  auto config = small_config();
  config.ssm = model::mil_ssm_config(config, 8);
  const auto layout = model::Layout::parse("AMIA", 4, "test");
  const auto estimate = infer::estimate_memory(config, layout, 100, at::kFloat, /*prefill_tokens=*/16);
  // The weights are what a real model of this layout holds.
  model::CausalLM real(config, layout, at::TensorOptions().dtype(at::kFloat));
  int64_t real_bytes = 0;
  for (const auto& p : real->parameters()) real_bytes += p.nbytes();
  CHECK(estimate.weight_bytes == real_bytes);
  CHECK(estimate.state_bytes_per_sequence ==
        model::inference_state_bytes_per_sequence(config, layout, 100, at::kFloat));
  // A token's activations by the formula: 2 x hidden + the widest layer transient, here Mamba's in_proj
  // (2 x 32 + 2 x 16 + 2 rows) + 3 x d_inner in fp32 + fp32 x and delta; a row's logits and sampling.
  const int64_t widest = std::max<int64_t>({3 * 48 * 4, (2 * 4 + 2 * 2) * 8 * 4, (98 + 3 * 32) * 4 + 2 * 32 * 4});
  const int64_t per_token = 2 * 32 * 4 + widest, sampling = 61 * (4 + 16);
  // The workspace: one forward of 16 prompt tokens and the logits of its (at most 16) rows, whatever the length.
  CHECK(estimate.workspace_bytes == 16 * per_token + 16 * sampling);
  CHECK(infer::estimate_memory(config, layout, 5000, at::kFloat, 16).workspace_bytes == estimate.workspace_bytes);
  // ...but never more tokens than a forward's 64 rows of short sequences hold.
  CHECK(infer::estimate_memory(config, layout, 3, at::kFloat, 8192).workspace_bytes ==
        64 * 3 * per_token + 64 * sampling);
  CHECK(estimate.decode_bytes_per_sequence == per_token + sampling);

  const int64_t fixed = estimate.weight_bytes + estimate.workspace_bytes, per_sequence = estimate.bytes_per_sequence();
  CHECK(infer::max_batch_for_memory(config, layout, 100, at::kFloat, 16, fixed + 3 * per_sequence) == 3);
  CHECK(infer::max_batch_for_memory(config, layout, 100, at::kFloat, 16, fixed + 4 * per_sequence - 1) == 3);
  CHECK(infer::max_batch_for_memory(config, layout, 100, at::kFloat, 16, fixed) == 0);
  REQUIRE_ERROR(infer::estimate_memory(config, layout, 100, at::kFloat, 0), "prefill tokens must be at least 1");
}

TEST_CASE("the memory planner's arithmetic on the 15B Apriel shape, checked by hand", "[infer]") {
  // 50 layers, hidden 5120, MLP 14336, 32 heads and 8 KV heads of 128, vocabulary 131072, untied; bf16.
  auto config = io::parse_transformer_config({{"model_type", "mistral"},
                                              {"vocab_size", 131072},
                                              {"hidden_size", 5120},
                                              {"intermediate_size", 14336},
                                              {"num_hidden_layers", 50},
                                              {"num_attention_heads", 32},
                                              {"num_key_value_heads", 8},
                                              {"head_dim", 128},
                                              {"max_position_embeddings", 65536},
                                              {"tie_word_embeddings", false}},
                                             "apriel-15b");
  config.ssm = model::mil_ssm_config(config, 16);
  const int64_t length = 1024 + 4096, budget = int64_t(125) << 30;
  const auto teacher = infer::estimate_memory(config, model::Layout::all_attention(50), length, at::kBFloat16, 8192);
  // Weights: a layer's q, k, v, o (5120 x (4096 + 1024 + 1024) + 4096 x 5120), MLP 3 x 5120 x 14336, two
  // norms; embeddings and lm_head 2 x 131072 x 5120; the final norm. 2 bytes each.
  CHECK(teacher.weight_bytes ==
        2 * (50 * (5120LL * 6144 + 4096 * 5120 + 3 * 5120LL * 14336 + 2 * 5120) + 2 * 131072LL * 5120 + 5120));
  CHECK(teacher.weight_bytes == 29'948'364'800);
  // A token: 2 x 5120 x 2 residual and normed copy + the MLP's 3 x 14336 x 2 (wider than attention's
  // (64 + 16) x 128 x 2) = 106,496 bytes; a row's logits and sampling 131072 x 18.
  CHECK(teacher.workspace_bytes == 8192 * 106'496 + 64 * 131072LL * 18);
  CHECK(teacher.decode_bytes_per_sequence == 106'496 + 131072 * 18);
  // K and V of 50 layers x 8 heads x 128 x 5120 tokens x 2 bytes: 1000 MiB a sequence.
  CHECK(teacher.state_bytes_per_sequence == 1'048'576'000);
  CHECK(infer::max_batch_for_memory(config, model::Layout::all_attention(50), length, at::kBFloat16, 8192, budget) ==
        (budget - 29'948'364'800 - 1'023'410'176) / (1'048'576'000 + 2'465'792));
  CHECK(infer::max_batch_for_memory(config, model::Layout::all_attention(50), length, at::kBFloat16, 8192, budget) ==
        98);

  // 40 Mamba layers: each a conv window (4096 channels x 4, bf16) and an SSM state (4096 x 16, fp32)
  // in place of 5120 tokens of K and V; 10 attention layers keep theirs. The batch grows about 4.8x.
  std::string text(50, 'M');
  for (int i = 0; i < 10; ++i) text[static_cast<std::size_t>(5 * i)] = 'A';
  const auto hybrid_layout = model::Layout::parse(text, 50, "test");
  const auto hybrid = infer::estimate_memory(config, hybrid_layout, length, at::kBFloat16, 8192);
  CHECK(hybrid.state_bytes_per_sequence == 10 * 2 * 8 * 5120LL * 128 * 2 + 40 * (4096 * 4 * 2 + 4096 * 16 * 4));
  const int64_t hybrid_batch = infer::max_batch_for_memory(config, hybrid_layout, length, at::kBFloat16, 8192, budget);
  CHECK(hybrid_batch == (budget - hybrid.weight_bytes - hybrid.workspace_bytes) / hybrid.bytes_per_sequence());
  CHECK(hybrid_batch > 4 * 98);
}
