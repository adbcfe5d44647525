// Batched generation: prompts of different lengths, continuous batching with
// chunked prefill, per-sequence stops, seeded sampling, and what generate() refuses.
#include <torch/torch.h>

#include <algorithm>

#include "catch.h"
#include "infer/generate.h"
#include "infer/sampling.h"
#include "random_models.h"

using namespace hybridize;
using hybridize::testing::random_hybrid;
using hybridize::testing::random_model;
using hybridize::testing::small_config;

namespace {

const std::vector<std::vector<int64_t>> kPrompts = {
    {5, 9, 1, 33, 2}, {40, 7}, {1, 2, 3, 4, 5, 6, 7}, {8, 8, 8, 8, 8}, {59}};

model::CausalLM windowed_hybrid() {
  static auto teacher = random_model(
      small_config({{"sliding_window", 3},
                    {"layer_types", {"full_attention", "sliding_attention", "full_attention", "full_attention"}}}));
  return random_hybrid(*teacher, "MAIA");
}

std::vector<std::vector<int64_t>> one_by_one(model::CausalLMImpl& m, const infer::GenerationOptions& options) {
  std::vector<std::vector<int64_t>> outputs;
  for (const auto& prompt : kPrompts) outputs.push_back(infer::generate(m, {prompt}, options).at(0));
  return outputs;
}

}  // namespace

TEST_CASE("a batch of prompts of different lengths generates what each prompt generates alone", "[infer]") {
  auto m = windowed_hybrid();
  infer::GenerationOptions options;
  options.max_new_tokens = 10;
  const auto alone = one_by_one(*m, options);
  CHECK(infer::generate(*m, kPrompts, options) == alone);
  // The outputs depend on the prompts (no row copies another's).
  CHECK(alone[0] != alone[1]);
}

TEST_CASE("continuous batching gives each request its solo tokens while others come and go", "[infer]") {
  auto m = windowed_hybrid();
  // Budgets of their own, so rows free up at different steps and later requests
  // start (chunked prefill of 2 tokens a forward) while earlier ones decode.
  std::vector<infer::GenerationRequest> requests;
  const std::vector<int64_t> budgets = {3, 11, 6, 1, 9, 4, 7};
  for (std::size_t i = 0; i < budgets.size(); ++i)
    requests.push_back({kPrompts[i % kPrompts.size()], budgets[i], std::nullopt});
  requests[5].prompt = {30, 31, 32, 33, 34, 35, 36, 37, 38};
  infer::GenerationOptions options;
  options.max_new_tokens = 5;
  std::vector<std::vector<int64_t>> alone;
  for (const auto& request : requests) alone.push_back(infer::serve(*m, {request}, options).at(0));
  for (std::size_t i = 0; i < budgets.size(); ++i) CHECK(int64_t(alone[i].size()) == budgets[i]);
  options.max_batch = 2;
  options.prefill_tokens = 2;
  infer::GenerationTimings timings;
  CHECK(infer::serve(*m, requests, options, &timings) == alone);
  CHECK(timings.generated_tokens == 3 + 11 + 6 + 1 + 9 + 4 + 7);
  // Two rows: the longest request's 10 decode steps run beside the others', so well under their sum of 34.
  CHECK(timings.decode_steps < 34);
  CHECK(timings.decode_tokens == 34);
  // With stop tokens too, each request still ends where it ends alone.
  options.stop_tokens = {alone[1][4]};
  for (auto& tokens : alone) {
    const auto end = std::find(tokens.begin(), tokens.end(), options.stop_tokens[0]);
    if (end != tokens.end()) tokens.erase(end + 1, tokens.end());
  }
  CHECK(infer::serve(*m, requests, options) == alone);
}

TEST_CASE("stop tokens end each sequence on its own, and generation ends when all have stopped", "[infer]") {
  auto m = windowed_hybrid();
  infer::GenerationOptions options;
  options.max_new_tokens = 16;
  const auto unstopped = one_by_one(*m, options);
  // Stop on the third token of the first sequence and the fifth of the second.
  options.stop_tokens = {unstopped[0][2], unstopped[1][4]};
  options.pad_id = 0;
  std::vector<std::vector<int64_t>> expected;
  for (const auto& tokens : unstopped) {
    auto end = std::find_first_of(tokens.begin(), tokens.end(), options.stop_tokens.begin(), options.stop_tokens.end());
    expected.emplace_back(tokens.begin(), end == tokens.end() ? end : end + 1);
  }
  infer::GenerationTimings timings;
  const auto batched = infer::generate(*m, kPrompts, options, &timings);
  CHECK(batched == expected);
  CHECK(batched[0].size() <= 3);
  CHECK(batched[1].size() <= 5);
  // When every sequence stops at its first token the loop ends long before its 15 decode steps.
  options.stop_tokens = {};
  for (const auto& tokens : unstopped) options.stop_tokens.push_back(tokens[0]);
  const auto first_only = infer::generate(*m, kPrompts, options, &timings);
  for (const auto& tokens : first_only) CHECK(tokens.size() == 1);
  CHECK(timings.decode_steps < 15);
}

TEST_CASE("seeded sampling repeats, another seed differs, and a tiny top_p is greedy", "[infer]") {
  auto m = windowed_hybrid();
  infer::GenerationOptions options;
  options.max_new_tokens = 24;
  options.temperature = 1.5;
  options.top_p = 0.95;
  options.seed = 11;
  const auto first = infer::generate(*m, kPrompts, options);
  CHECK(infer::generate(*m, kPrompts, options) == first);
  options.seed = 12;
  CHECK(infer::generate(*m, kPrompts, options) != first);
  infer::GenerationOptions greedy;
  greedy.max_new_tokens = 24;
  const auto greedy_tokens = infer::generate(*m, kPrompts, greedy);
  CHECK(first != greedy_tokens);
  options.top_p = 1e-6;
  CHECK(infer::generate(*m, kPrompts, options) == greedy_tokens);
}

TEST_CASE("a sampled request draws the same tokens alone, in any batch and in any order", "[infer]") {
  auto m = windowed_hybrid();
  infer::GenerationOptions options;
  options.max_new_tokens = 12;
  options.temperature = 1.2;
  options.seed = 5;
  std::vector<infer::GenerationRequest> requests;
  for (std::size_t i = 0; i < kPrompts.size(); ++i) requests.push_back({kPrompts[i], int64_t(6 + i), 100 + i});
  std::vector<std::vector<int64_t>> alone;
  for (const auto& request : requests) alone.push_back(infer::serve(*m, {request}, options).at(0));
  options.max_batch = 2;
  CHECK(infer::serve(*m, requests, options) == alone);
  auto reversed = requests;
  std::reverse(reversed.begin(), reversed.end());
  options.max_batch = 0;
  auto reversed_tokens = infer::serve(*m, reversed, options);
  std::reverse(reversed_tokens.begin(), reversed_tokens.end());
  CHECK(reversed_tokens == alone);
  // Each finished request is handed over as it ends, with the tokens serve returns.
  std::vector<std::vector<int64_t>> handed(requests.size());
  std::size_t calls = 0;
  infer::serve(*m, requests, options, nullptr, [&](std::size_t i, const std::vector<int64_t>& tokens) {
    handed.at(i) = tokens;
    ++calls;
  });
  CHECK(calls == requests.size());
  CHECK(handed == alone);
  // Another request seed is another stream.
  requests[0].seed = 7;
  CHECK(infer::serve(*m, {requests[0]}, options).at(0) != alone[0]);
}

TEST_CASE("draws follow softmax(logits / temperature), cut to the top_p nucleus", "[infer]") {
  const auto logits = torch::tensor({{2.0f, 1.0f, 0.0f, -1.0f}}).expand({20000, 4}).contiguous();
  const auto streams = torch::full({20000}, infer::draw_stream(3, 0), torch::kLong);
  const auto positions = torch::arange(20000, torch::kLong);
  const auto keys = infer::draw_keys(streams, positions);
  for (const double temperature : {1.0, 2.0}) {
    const auto drawn = infer::sample_next_tokens(logits, temperature, 1.0, keys);
    const auto frequency = torch::bincount(drawn, {}, 4).to(torch::kDouble) / 20000;
    const auto expected = torch::softmax(logits[0].to(torch::kDouble) / temperature, 0);
    INFO("temperature " << temperature << ": " << frequency << " vs " << expected);
    // Four standard errors of a frequency near 0.5 over 20,000 draws is 0.014.
    CHECK((frequency - expected).abs().max().item<double>() < 0.015);
  }
  // top_p 0.8 keeps the tokens whose mass before them is under 0.8: here the first two (0.64, 0.24).
  const auto nucleus = infer::sample_next_tokens(logits, 1.0, 0.8, keys);
  CHECK(nucleus.lt(2).all().item<bool>());
  CHECK(nucleus.eq(1).any().item<bool>());
  // Keys, not positions in the batch, pick the draw: the same keys in another row order draw the same tokens.
  const auto order = torch::randperm(20000, torch::kLong);
  CHECK(infer::sample_next_tokens(logits, 1.0, 1.0, keys.index({order}))
            .equal(infer::sample_next_tokens(logits, 1.0, 1.0, keys).index({order})));
}

const std::vector<std::vector<int64_t>> kOneToken = {{1}};

TEST_CASE("generate refuses empty prompts, ids outside the vocabulary and impossible options", "[infer][bad-input]") {
  auto m = random_model(small_config());
  infer::GenerationOptions options;
  options.max_new_tokens = 2;
  REQUIRE_ERROR(infer::generate(*m, std::vector<std::vector<int64_t>>{}, options), "generate: no prompts");
  REQUIRE_ERROR(infer::generate(*m, {{1, 2}, {}}, options), "prompt 1 is empty");
  REQUIRE_ERROR(infer::generate(*m, {{1, 61}}, options), "prompt 0 token 1 is id 61, outside the vocabulary of 61");
  options.top_p = 0;
  REQUIRE_ERROR(infer::generate(*m, kOneToken, options), "top_p must be in (0, 1]");
  options.top_p = 1;
  options.temperature = -1;
  REQUIRE_ERROR(infer::generate(*m, kOneToken, options), "temperature must be 0 (greedy) or positive");
  options.temperature = 0;
  options.stop_tokens = {-3};
  REQUIRE_ERROR(infer::generate(*m, kOneToken, options), "stop token -3 is outside the vocabulary");
  options.stop_tokens = {};
  options.max_new_tokens = 0;
  REQUIRE_ERROR(infer::generate(*m, kOneToken, options), "max_new_tokens must be at least 1");
  options.max_new_tokens = 2;
  REQUIRE_ERROR(infer::generate(*m, {std::vector<int64_t>(257, 1)}, options),
                "prompt 0 has 257 tokens, more than the model's context of 256");
  options.max_batch = -1;
  REQUIRE_ERROR(infer::generate(*m, kOneToken, options), "max_batch must be positive");
  options.max_batch = 0;
  options.prefill_tokens = 0;
  REQUIRE_ERROR(infer::generate(*m, kOneToken, options), "prefill_tokens must be at least 1");
}
