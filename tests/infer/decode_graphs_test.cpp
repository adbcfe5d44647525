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
  auto teacher = random_model(small_config({{"sliding_window", 3}, {"layer_types", {"full_attention",
                              "sliding_attention", "full_attention", "full_attention"}}}), at::kFloat);
  auto hybrid = random_hybrid(*teacher, "MAIA");
  hybrid->to(at::kCUDA);
  return hybrid;
}

double relative_difference(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>() / b.abs().max().item<double>();
}

}  // namespace

TEST_CASE("decode steps replayed from CUDA graphs give the eager steps' logits", "[cuda]") {
  REQUIRE(torch::cuda::is_available());
  auto m = hybrid_on_gpu();
  torch::NoGradGuard no_grad;
  const int64_t prompt = 7, steps = 12;
  const auto ids = at::randint(61, {2, prompt}, at::TensorOptions().dtype(at::kLong).device(at::kCUDA));
  model::InferenceState eager(*m, 2, prompt + steps + 1), graphed(*m, 2, prompt + steps + 1);
  auto a = m->prefill(ids, eager);
  auto b = m->prefill(ids, graphed);
  infer::DecodeGraphs graphs(*m, graphed, /*key_bucket=*/4);
  for (int64_t step = 0; step < steps; ++step) {
    const auto next = a.argmax(-1, /*keepdim=*/true);
    a = m->decode_step(next, eager);
    b = graphs.step(next);
    INFO("step " << step);
    CHECK(relative_difference(b, a) < 1e-4);
    CHECK(at::equal(a.argmax(-1), b.argmax(-1)));
  }
  // After the eager first step the state holds 8 tokens; later steps reach key
  // extents 9..20, in buckets of 4: graphs for 12, 16 and 20 keys.
  CHECK(graphs.graphs_captured() == 3);
}

TEST_CASE("generation with CUDA graphs gives the tokens of eager generation", "[cuda]") {
  REQUIRE(torch::cuda::is_available());
  auto m = hybrid_on_gpu();
  const std::vector<std::vector<int64_t>> prompts = {{5, 9, 1, 33, 2}, {40, 7}, {1, 2, 3, 4, 5, 6, 7}, {59}};
  infer::GenerationOptions options;
  options.max_new_tokens = 300;  // past one key bucket (256)
  options.cuda_graphs = false;
  infer::GenerationTimings eager_timings, graph_timings;
  const auto eager = infer::generate(*m, prompts, options, &eager_timings);
  options.cuda_graphs = true;
  const auto graphed = infer::generate(*m, prompts, options, &graph_timings);
  CHECK(graphed == eager);
  CHECK(eager_timings.capture_seconds == 0);
  CHECK(graph_timings.capture_seconds > 0);
  CHECK(graph_timings.decode_steps == eager_timings.decode_steps - 1);  // the capturing step apart
}
