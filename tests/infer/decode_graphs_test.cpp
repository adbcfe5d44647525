// Decode steps replayed from CUDA graphs against the eager steps on the same
// GPU: the same logits step by step, and the same generated tokens.
#include <torch/cuda.h>
#include <torch/torch.h>

#include "catch.h"
#include "infer/decode_graphs.h"
#include "infer/generate.h"
#include "random_models.h"

using namespace hybridize;
using hybridize::testing::random_hybrid;
using hybridize::testing::random_model;
using hybridize::testing::small_config;

namespace {

// fp32 on the GPU: Mamba, a sliding-window attention layer, full attention and an identity layer.
model::CausalLM hybrid_on_gpu() {
  auto teacher = random_model(
      small_config({{"sliding_window", 3},
                    {"layer_types", {"full_attention", "sliding_attention", "full_attention", "full_attention"}}}),
      at::kFloat);
  auto hybrid = random_hybrid(*teacher, "MAIA");
  hybrid->to(at::kCUDA);
  return hybrid;
}

double relative_difference(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>() / b.abs().max().item<double>();
}

}  // namespace

TEST_CASE("decode steps replayed from a CUDA graph give the eager steps' logits", "[cuda]") {
  REQUIRE(torch::cuda::is_available());
  auto m = hybrid_on_gpu();
  torch::NoGradGuard no_grad;
  const int64_t prompt = 7, steps = 12;
  const auto ids = at::randint(61, {2, prompt}, at::TensorOptions().dtype(at::kLong).device(at::kCUDA));
  model::InferenceState eager(*m, 2, prompt + steps + 1), graphed(*m, 2, prompt + steps + 1);
  auto a = m->prefill(ids, eager);
  auto b = m->prefill(ids, graphed);
  infer::DecodeGraphs graphs(*m, graphed);
  for (int64_t step = 0; step < steps; ++step) {
    const auto next = a.argmax(-1, /*keepdim=*/true);
    a = m->decode_step(next, eager);
    b = graphs.step(next);
    INFO("step " << step);
    CHECK(relative_difference(b, a) < 1e-4);
    CHECK(at::equal(a.argmax(-1), b.argmax(-1)));
  }
}

TEST_CASE("generation with CUDA graphs gives the tokens of eager generation, also with continuous batching", "[cuda]") {
  REQUIRE(torch::cuda::is_available());
  auto m = hybrid_on_gpu();
  const std::vector<std::vector<int64_t>> prompts = {{5, 9, 1, 33, 2}, {40, 7}, {1, 2, 3, 4, 5, 6, 7}, {59}};
  infer::GenerationOptions options;
  options.max_new_tokens = 300;
  options.cuda_graphs = false;
  infer::GenerationTimings eager_timings, graph_timings;
  const auto eager = infer::generate(*m, prompts, options, &eager_timings);
  options.cuda_graphs = true;
  const auto graphed = infer::generate(*m, prompts, options, &graph_timings);
  CHECK(graphed == eager);
  CHECK(eager_timings.capture_seconds == 0);
  CHECK(graph_timings.capture_seconds > 0);
  CHECK(graph_timings.decode_steps == eager_timings.decode_steps - 1);  // the capturing step apart
  // Two rows for four requests of their own budgets, prompts in chunks of 3: one graph replayed
  // while rows take new sequences gives what eager steps of the same rows give.
  std::vector<infer::GenerationRequest> requests;
  for (std::size_t i = 0; i < prompts.size(); ++i) requests.push_back({prompts[i], int64_t(40 + 25 * i), std::nullopt});
  options.max_batch = 2;
  options.prefill_tokens = 3;
  options.cuda_graphs = false;
  const auto eager_rows = infer::serve(*m, requests, options);
  options.cuda_graphs = true;
  CHECK(infer::serve(*m, requests, options) == eager_rows);
  for (std::size_t i = 0; i < requests.size(); ++i) CHECK(int64_t(eager_rows[i].size()) == requests[i].max_new_tokens);
}

TEST_CASE("the flash path of prefill chunks and decode steps gives the reference's logits in bf16", "[cuda]") {
  REQUIRE(torch::cuda::is_available());
  // Head dim 32 (flash takes multiples of 8), a sliding window, Mamba; the same model on the CPU runs the reference.
  auto teacher = random_model(
      small_config({{"hidden_size", 64},
                    {"num_attention_heads", 2},
                    {"num_key_value_heads", 1},
                    {"head_dim", 32},
                    {"sliding_window", 5},
                    {"layer_types", {"full_attention", "sliding_attention", "full_attention", "full_attention"}}}),
      at::kBFloat16);
  auto on_cpu = random_hybrid(*teacher, "AAMA");
  auto on_gpu = random_hybrid(*teacher, "AAMA");
  on_gpu->to(at::kCUDA);
  torch::NoGradGuard no_grad;
  const auto ids = at::randint(61, {3, 13}, at::kLong);
  model::InferenceState cpu_state(*on_cpu, 3, 24), gpu_state(*on_gpu, 3, 24);
  at::Tensor a, b;
  for (int64_t start = 0; start < 13; start += 4) {  // chunks 4 + 4 + 4 + 1
    const int64_t chunk = std::min<int64_t>(4, 13 - start);
    a = on_cpu->prefill(ids.narrow(1, start, chunk), cpu_state);
    b = on_gpu->prefill(ids.narrow(1, start, chunk).to(at::kCUDA), gpu_state).cpu();
  }
  CHECK(relative_difference(b.to(at::kFloat), a.to(at::kFloat)) < 0.05);
  for (int step = 0; step < 8; ++step) {
    const auto next = a.argmax(-1, /*keepdim=*/true);
    a = on_cpu->decode_step(next, cpu_state);
    b = on_gpu->decode_step(next.to(at::kCUDA), gpu_state).cpu();
    INFO("step " << step);
    CHECK(relative_difference(b.to(at::kFloat), a.to(at::kFloat)) < 0.05);
  }
}
