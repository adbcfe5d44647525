// The LibTorch-ops references of the Mamba kernels against plain scalar loops,
// their decode steps against the full-sequence versions, and their gradients
// against finite differences.
#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "catch.h"
#include "kernels/causal_conv1d_kernel.h"
#include "kernels/selective_scan_kernel.h"

using namespace hybridize::kernels;

namespace {

struct Shape {
  int64_t batch, length, channels, d_state, b_groups, c_groups;
};

ScanInputs random_inputs(const Shape& s, at::ScalarType dtype, bool with_extras, uint64_t seed) {
  torch::manual_seed(seed);
  const auto o = torch::TensorOptions().dtype(dtype);
  ScanInputs in;
  in.x = torch::randn({s.batch, s.length, s.channels}, o);
  in.delta = torch::randn({s.batch, s.length, s.channels}, o) * 0.5;
  in.A = -torch::rand({s.channels, s.d_state}, o.dtype(dtype == at::kDouble ? at::kDouble : at::kFloat)) * 2 - 0.1;
  in.B = torch::randn({s.batch, s.length, s.b_groups, s.d_state}, o);
  in.C = torch::randn({s.batch, s.length, s.c_groups, s.d_state}, o);
  in.D = torch::randn({s.channels}, o);
  if (with_extras) {
    in.z = torch::randn({s.batch, s.length, s.channels}, o);
    in.delta_bias = torch::randn({s.channels}, o) * 0.3;
    in.initial_state =
        torch::randn({s.batch, s.channels, s.d_state}, o.dtype(dtype == at::kDouble ? at::kDouble : at::kFloat));
  }
  return in;
}

// The recurrence written out element by element in double precision.
std::pair<at::Tensor, at::Tensor> scalar_scan(const ScanInputs& in) {
  const auto x = in.x.to(at::kDouble), delta = in.delta.to(at::kDouble), A = in.A.to(at::kDouble);
  const auto B = in.B.to(at::kDouble), C = in.C.to(at::kDouble), D = in.D.to(at::kDouble);
  const int64_t batch = x.size(0), length = x.size(1), channels = x.size(2), d_state = A.size(1);
  const int64_t b_width = channels / B.size(2), c_width = channels / C.size(2);
  auto y = torch::zeros({batch, length, channels}, torch::kDouble);
  auto state = in.initial_state ? in.initial_state->to(at::kDouble).clone()
                                : torch::zeros({batch, channels, d_state}, torch::kDouble);
  auto xa = x.accessor<double, 3>();
  auto da = delta.accessor<double, 3>();
  auto Aa = A.accessor<double, 2>();
  auto Ba = B.accessor<double, 4>();
  auto Ca = C.accessor<double, 4>();
  auto Da = D.accessor<double, 1>();
  auto ya = y.accessor<double, 3>();
  auto sa = state.accessor<double, 3>();
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t d = 0; d < channels; ++d)
      for (int64_t t = 0; t < length; ++t) {
        double dt = da[b][t][d] + (in.delta_bias ? in.delta_bias->to(at::kDouble)[d].item<double>() : 0.0);
        if (in.delta_softplus) dt = std::log1p(std::exp(dt));
        double out = 0;
        for (int64_t n = 0; n < d_state; ++n) {
          sa[b][d][n] = std::exp(dt * Aa[d][n]) * sa[b][d][n] + dt * Ba[b][t][d / b_width][n] * xa[b][t][d];
          out += Ca[b][t][d / c_width][n] * sa[b][d][n];
        }
        out += Da[d] * xa[b][t][d];
        if (in.z) {
          const double zv = in.z->to(at::kDouble)[b][t][d].item<double>();
          out *= zv / (1 + std::exp(-zv));
        }
        ya[b][t][d] = out;
      }
  return {y, state};
}

const Shape kShapes[] = {
    {1, 1, 8, 4, 1, 2},     // length 1
    {2, 5, 8, 4, 2, 4},     // B and C with different group counts
    {1, 17, 12, 3, 3, 12},  // odd length, one C group per channel
    {3, 9, 6, 2, 6, 1},
};

}  // namespace

TEST_CASE("reference selective scan equals the scalar recurrence", "[kernels]") {
  for (const auto& shape : kShapes)
    for (bool extras : {false, true}) {
      INFO("batch " << shape.batch << " length " << shape.length << " channels " << shape.channels << " extras "
                    << extras);
      const auto in = random_inputs(shape, at::kFloat, extras, 11);
      const auto out = selective_scan_reference(in);
      const auto [y, state] = scalar_scan(in);
      CHECK(torch::allclose(out.y.to(at::kDouble), y, 1e-5, 1e-5));
      CHECK(torch::allclose(out.final_state.to(at::kDouble), state, 1e-5, 1e-5));
      CHECK(out.y.scalar_type() == at::kFloat);
    }
}

TEST_CASE("bf16 inputs keep an fp32 state and stay within bf16 tolerance", "[kernels]") {
  const auto in32 = random_inputs({2, 7, 8, 4, 2, 2}, at::kFloat, true, 5);
  ScanInputs in16 = in32;
  for (auto* t : {&in16.x, &in16.delta, &in16.B, &in16.C}) *t = t->to(at::kBFloat16);
  in16.z = in32.z->to(at::kBFloat16);
  const auto out16 = selective_scan_reference(in16);
  const auto out32 = selective_scan_reference(in32);
  CHECK(out16.y.scalar_type() == at::kBFloat16);
  CHECK(out16.final_state.scalar_type() == at::kFloat);
  const double relative = ((out16.y.to(at::kFloat) - out32.y).norm() / out32.y.norm()).item<double>();
  CHECK(relative < 2e-2);
}

TEST_CASE("decoding token by token reproduces the full scan", "[kernels]") {
  const Shape shape{2, 11, 8, 4, 2, 4};
  const auto in = random_inputs(shape, at::kFloat, true, 3);
  const auto full = selective_scan_reference(in);
  auto state = *in.initial_state;
  for (int64_t t = 0; t < shape.length; ++t) {
    StepInputs step{state, in.x.select(1, t),  in.delta.select(1, t), in.A, in.B.select(1, t), in.C.select(1, t),
                    in.D,  in.z->select(1, t), in.delta_bias,         true};
    const auto out = selective_scan_step_reference(step);
    INFO("position " << t);
    REQUIRE(torch::allclose(out.y, full.y.select(1, t), 1e-5, 1e-5));
    state = out.new_state;
  }
  CHECK(torch::allclose(state, full.final_state, 1e-5, 1e-5));
}

TEST_CASE("scan gradients agree with finite differences", "[kernels]") {
  auto in = random_inputs({1, 6, 4, 3, 2, 2}, at::kDouble, true, 8);
  std::vector<at::Tensor*> leaves = {&in.x, &in.delta, &in.A, &in.B, &in.C, &in.D};
  for (auto* leaf : leaves) leaf->requires_grad_(true);
  in.z->requires_grad_(true);
  const auto weights = torch::randn({1, 6, 4}, torch::kDouble);
  auto loss_of = [&]() { return (selective_scan_reference(in).y * weights).sum(); };
  loss_of().backward();
  leaves.push_back(&*in.z);
  const char* names[] = {"x", "delta", "A", "B", "C", "D", "z"};
  for (std::size_t k = 0; k < leaves.size(); ++k) {
    auto& leaf = *leaves[k];
    const auto analytic = leaf.grad().clone();
    torch::NoGradGuard no_grad;
    auto flat = leaf.view(-1);
    for (int64_t i = 0; i < flat.numel(); i += std::max<int64_t>(1, flat.numel() / 5)) {
      const double h = 1e-6, saved = flat[i].item<double>();
      flat[i] = saved + h;
      const double up = loss_of().item<double>();
      flat[i] = saved - h;
      const double down = loss_of().item<double>();
      flat[i] = saved;
      INFO("d loss / d " << names[k] << "[" << i << "]");
      CHECK(analytic.view(-1)[i].item<double>() == Approx((up - down) / (2 * h)).epsilon(1e-5).margin(1e-7));
    }
  }
}

TEST_CASE("reference causal conv1d equals the scalar convolution, and its steps the full pass", "[kernels]") {
  torch::manual_seed(4);
  for (int64_t length : {1, 3, 10}) {
    const int64_t batch = 2, channels = 5, width = 4;
    const auto x = torch::randn({batch, length, channels});
    const auto weight = torch::randn({channels, width});
    const auto bias = torch::randn({channels});
    const auto out = causal_conv1d_reference(x, weight, bias);
    auto expected = torch::zeros_like(out);
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t t = 0; t < length; ++t)
        for (int64_t c = 0; c < channels; ++c) {
          double acc = bias[c].item<double>();
          for (int64_t k = 0; k < width; ++k) {
            const int64_t source = t - width + 1 + k;
            if (source >= 0) acc += weight[c][k].item<double>() * x[b][source][c].item<double>();
          }
          expected[b][t][c] = acc / (1 + std::exp(-acc));
        }
    INFO("length " << length);
    CHECK(torch::allclose(out, expected, 1e-5, 1e-5));

    auto state = torch::zeros({batch, channels, width});
    for (int64_t t = 0; t < length; ++t) {
      const auto step = causal_conv1d_step_reference(state, x.select(1, t), weight, bias);
      CHECK(torch::allclose(step.y, out.select(1, t), 1e-5, 1e-5));
      state = step.new_state;
    }
    CHECK(torch::equal(state, causal_conv1d_state(x, width)));
  }
}

TEST_CASE("scan inputs of the wrong shape are refused naming the tensor", "[kernels][bad-input]") {
  auto in = random_inputs({1, 4, 8, 4, 2, 2}, at::kFloat, false, 1);
  in.D = torch::ones({7});
  REQUIRE_ERROR(selective_scan_reference(in), "tensor 'D' has shape [7], expected [8]");
  in = random_inputs({1, 4, 8, 4, 2, 2}, at::kFloat, false, 1);
  in.B = torch::randn({1, 4, 3, 4});
  REQUIRE_ERROR(selective_scan_reference(in), "3 groups of 'B' do not divide 8 channels");
}
