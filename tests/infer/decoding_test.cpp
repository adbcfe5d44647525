// Incremental decoding (prefill, whole or in chunks, and decode steps on the
// preallocated state) against the full forward pass over the growing sequence,
// for every mixer kind.
#include <torch/torch.h>

#include "catch.h"
#include "infer/generate.h"
#include "model/inference_state.h"
#include "random_models.h"

using namespace hybridize;
using hybridize::testing::ids_tensor;
using hybridize::testing::random_hybrid;
using hybridize::testing::random_model;
using hybridize::testing::small_config;

namespace {

// Prefills `prompt`, then feeds back the argmax of the full forward pass over
// the growing sequence for `steps` steps; each step's cached logits must equal
// the forward's last position. Then greedy generate() must pick the same tokens.
void require_decoding_matches_forward(model::CausalLMImpl& m, const std::vector<int64_t>& prompt, int64_t steps) {
  torch::NoGradGuard no_grad;
  model::InferenceState state(m, /*batch=*/1, static_cast<int64_t>(prompt.size()) + steps);
  auto sequence = prompt;
  auto cached = m.prefill(ids_tensor(sequence), state);
  double worst = 0;
  for (int64_t step = 0; step <= steps; ++step) {
    const auto full = m.forward(ids_tensor(sequence)).select(1, -1);
    REQUIRE(cached.sizes() == full.sizes());
    worst = std::max(worst, (cached - full).abs().max().item<double>());
    sequence.push_back(full.argmax(-1).item<int64_t>());
    if (step < steps) cached = m.decode_step(at::tensor({sequence.back()}, at::kLong).view({1, 1}), state);
  }
  INFO("layout " << m.layout.to_string() << ", worst logit difference " << worst);
  CHECK(worst < 1e-9);
  infer::GenerationOptions greedy;
  greedy.max_new_tokens = steps + 1;
  const auto generated = infer::generate(m, {prompt}, greedy);
  CHECK(generated.at(0) == std::vector<int64_t>(sequence.begin() + static_cast<long>(prompt.size()), sequence.end()));
}

const std::vector<int64_t> kPrompt = {3, 17, 42, 5, 5, 60, 11};

}  // namespace

TEST_CASE("decoding an all-attention model equals its full forward pass", "[infer]") {
  auto m = random_model(small_config());
  require_decoding_matches_forward(*m, kPrompt, 12);
}

TEST_CASE("decoding keeps sliding windows: per-layer windows shorter than the sequence", "[infer]") {
  // Windows of 3 and 5 in different layers; prompt 7 + 12 steps runs far past both.
  auto config =
      small_config({{"sliding_window", 5},
                    {"layer_types", {"full_attention", "sliding_attention", "full_attention", "sliding_attention"}}});
  config.attention_windows[3] = 3;
  auto m = random_model(config);
  require_decoding_matches_forward(*m, kPrompt, 12);
  // The windows matter: the same weights without them decode to other logits.
  auto unwindowed = random_model(small_config());
  torch::NoGradGuard no_grad;
  CHECK_FALSE(torch::allclose(m->forward(ids_tensor(kPrompt)), unwindowed->forward(ids_tensor(kPrompt))));
}

TEST_CASE("decoding a hybrid with Mamba and identity layers equals its full forward pass", "[infer]") {
  auto config =
      small_config({{"sliding_window", 4},
                    {"layer_types", {"sliding_attention", "full_attention", "full_attention", "full_attention"}}});
  auto teacher = random_model(config);
  for (const char* layout : {"AMIM", "MMMM", "MAIA"}) {
    auto hybrid = random_hybrid(*teacher, layout);
    require_decoding_matches_forward(*hybrid, kPrompt, 12);
  }
  // A one-token prompt: the conv window and SSM state start almost empty.
  auto hybrid = random_hybrid(*teacher, "AMIM");
  require_decoding_matches_forward(*hybrid, {9}, 6);
}

namespace {

// Prefills `prompt` into two rows, one whole and one in chunks of `chunk`
// tokens (the last chunk shorter when `chunk` does not divide the prompt),
// then decodes both rows together: the chunked row's logits must equal the
// whole row's at the prefill and at every step.
void require_chunked_prefill_matches(model::CausalLMImpl& m, const std::vector<int64_t>& prompt, int64_t chunk) {
  torch::NoGradGuard no_grad;
  const int64_t length = static_cast<int64_t>(prompt.size()), steps = 6;
  model::InferenceState state(m, /*batch=*/2, length + steps);
  const auto ids = ids_tensor(prompt);
  const auto whole = m.prefill(ids, state, 0);
  at::Tensor chunked;
  for (int64_t start = 0; start < length; start += chunk)
    chunked = m.prefill(ids.narrow(1, start, std::min(chunk, length - start)), state, 1);
  INFO("layout " << m.layout.to_string() << ", chunks of " << chunk);
  CHECK((whole - chunked).abs().max().item<double>() < 1e-10);
  auto logits = at::cat({whole, chunked});
  for (int64_t step = 0; step < steps; ++step) {
    logits = m.decode_step(logits.select(0, 0).argmax().view({1, 1}).expand({2, 1}).contiguous(), state);
    CHECK((logits[0] - logits[1]).abs().max().item<double>() < 1e-10);
  }
}

}  // namespace

TEST_CASE("chunked prefill equals one-shot prefill for attention, sliding windows, Mamba and identity layers",
          "[infer]") {
  auto config =
      small_config({{"sliding_window", 3},
                    {"layer_types", {"sliding_attention", "full_attention", "full_attention", "sliding_attention"}}});
  auto teacher = random_model(config);
  for (const int64_t chunk : {1, 2, 3, 5}) {  // 7 tokens: 7 x 1, 2+2+2+1, 3+3+1, 5+2
    require_chunked_prefill_matches(*teacher, kPrompt, chunk);
    for (const char* layout : {"AMIM", "MMMM", "MAIA"}) {
      auto hybrid = random_hybrid(*teacher, layout);
      require_chunked_prefill_matches(*hybrid, kPrompt, chunk);
    }
  }
  // A row given back and taken again starts from an empty state: the same logits as a fresh state.
  torch::NoGradGuard no_grad;
  auto hybrid = random_hybrid(*teacher, "MAMA");
  model::InferenceState reused(*hybrid, 1, 12), fresh(*hybrid, 1, 12);
  hybrid->prefill(ids_tensor({4, 8, 15, 16, 23, 42}), reused);
  reused.end_sequence(0);
  reused.start_sequence(0);
  CHECK((hybrid->prefill(ids_tensor(kPrompt), reused) - hybrid->prefill(ids_tensor(kPrompt), fresh))
            .abs()
            .max()
            .item<double>() == 0);
}

TEST_CASE("decoding in bf16 stays close to the bf16 forward pass", "[infer]") {
  auto teacher = random_model(small_config(), at::kBFloat16);
  auto hybrid = random_hybrid(*teacher, "AMAM");
  torch::NoGradGuard no_grad;
  model::InferenceState state(*hybrid, 1, 16);
  auto sequence = kPrompt;
  auto cached = hybrid->prefill(ids_tensor(sequence), state);
  for (int step = 0; step < 4; ++step) {
    const auto full = hybrid->forward(ids_tensor(sequence)).select(1, -1).to(at::kFloat);
    INFO("step " << step);
    CHECK((cached.to(at::kFloat) - full).abs().max().item<double>() < 0.1 * full.abs().max().item<double>());
    sequence.push_back(full.argmax(-1).item<int64_t>());
    cached = hybrid->decode_step(at::tensor({sequence.back()}, at::kLong).view({1, 1}), state);
  }
}

TEST_CASE(
    "the state refuses a decode before prefill, chunks over rows of different lengths, and decoding past "
    "max_length",
    "[infer][bad-input]") {
  auto m = random_model(small_config());
  torch::NoGradGuard no_grad;
  model::InferenceState state(*m, 2, 4);
  const auto next = at::zeros({2, 1}, at::kLong);
  REQUIRE_ERROR(m->decode_step(next, state), "every row holding a sequence must be prefilled first");
  m->prefill(ids_tensor({1, 2, 3}), state, 0);
  REQUIRE_ERROR(m->prefill(at::ones({2, 1}, at::kLong), state, 0),
                "rows of one chunk must hold sequences of one length; row 1 holds 0 tokens, row 0 3");
  REQUIRE_ERROR(m->prefill(ids_tensor({4, 5}), state, 2), "outside the state's batch of 2");
  REQUIRE_ERROR(m->prefill(ids_tensor({1, 2, 3, 4, 5}), state, 1), "5 tokens exceed the state's max_length 4");
  REQUIRE_ERROR(m->prefill(ids_tensor({4, 5}), state, 0), "5 tokens exceed the state's max_length 4");
  REQUIRE_ERROR(state.start_sequence(0), "row 0 already holds a sequence");
  m->prefill(ids_tensor({4, 5}), state, 1);
  REQUIRE_ERROR(m->decode_step(at::zeros({1, 1}, at::kLong), state), "input_ids must be [2, 1]");
  m->decode_step(next, state);  // row 0 now holds 4 tokens: full
  REQUIRE_ERROR(m->decode_step(next, state), "a row holds the state's max_length of 4 tokens");
  state.end_sequence(1);
  REQUIRE_ERROR(m->prefill(ids_tensor({4}), state, 1), "row 1 holds no sequence (start_sequence first)");
}

TEST_CASE("the state holds exactly the bytes per sequence computed by hand", "[infer]") {
  // Apriel-15B's shape: 50 layers, 8 KV heads of 128; 30 Mamba layers with MIL widths
  // (d_inner 32 x 128 = 4096, d_xb 1024, d_state 16, conv width 4 over d_inner channels).
  auto config = io::parse_transformer_config({{"model_type", "mistral"},
                                              {"vocab_size", 131072},
                                              {"hidden_size", 5120},
                                              {"intermediate_size", 14336},
                                              {"num_hidden_layers", 50},
                                              {"num_attention_heads", 32},
                                              {"num_key_value_heads", 8},
                                              {"head_dim", 128},
                                              {"max_position_embeddings", 65536}},
                                             "apriel-15b");
  config.ssm = model::mil_ssm_config(config, 16);
  std::string text(50, 'A');
  for (int i = 0; i < 30; ++i) text[static_cast<std::size_t>(i)] = 'M';
  text[49] = 'I';  // 30 Mamba, 19 attention, 1 identity
  const auto layout = model::Layout::parse(text, 50, "test");
  const int64_t kv = 19LL * 2 * 8 * 4096 * 128 * 2;             // K and V, bf16, 4096 tokens
  const int64_t mamba = 30LL * (4096 * 4 * 2 + 4096 * 16 * 4);  // bf16 conv window + fp32 SSM state
  CHECK(model::inference_state_bytes_per_sequence(config, layout, 4096, at::kBFloat16) == kv + mamba);
  CHECK(kv + mamba == 327'614'464);

  // ...and what a state really allocates per row is the same formula.
  auto small = small_config();
  small.ssm = model::mil_ssm_config(small, 8);
  const auto small_layout = model::Layout::parse("AMIA", 4, "test");
  model::InferenceState state(small, small_layout, /*batch=*/3, /*max_length=*/10, at::kFloat, at::kCPU);
  int64_t allocated = 0;
  for (const auto& layer : state.layers)
    for (const auto* t : {&layer.key, &layer.value, &layer.conv, &layer.ssm})
      if (t->defined()) allocated += t->nbytes();
  CHECK(allocated == 3 * model::inference_state_bytes_per_sequence(small, small_layout, 10, at::kFloat));
  CHECK(allocated == 3 * (2 * 2 * 2 * 10 * 8 * 4 + 1 * (32 * 4 * 4 + 32 * 8 * 4)));
}
