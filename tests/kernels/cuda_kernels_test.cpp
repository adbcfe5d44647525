// The CUDA kernels behind selective_scan(), causal_conv1d(), their steps,
// logit_loss(), rms_norm(), rotary() and swiglu() against the LibTorch-ops references run in
// double on the CPU: forward outputs, final states, every input gradient,
// decoding token by token, and the losses' values and logit gradients.
// Tagged [cuda]: they run in the GPU preset only (model_cuda).
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "catch.h"
#include "kernels/causal_conv1d_kernel.h"
#include "kernels/logit_loss_kernel.h"
#include "kernels/rms_norm_kernel.h"
#include "kernels/rotary_kernel.h"
#include "kernels/selective_scan_kernel.h"
#include "kernels/swiglu_kernel.h"

using namespace hybridize::kernels;

namespace {

struct Shape {
  int64_t batch, length, channels, d_state, b_groups, c_groups;
};

double tolerance(at::ScalarType dtype) { return dtype == at::kFloat ? 1e-4 : 1e-2; }

// Largest deviation relative to the largest reference value (or to `floor`,
// where all are smaller); NaN fails.
double max_relative(const at::Tensor& out, const at::Tensor& ref, double floor = 1e-12) {
  const auto a = out.to(at::kCPU, at::kDouble), b = ref.to(at::kCPU, at::kDouble);
  const double scale = std::max(b.abs().max().item<double>(), floor);
  const double error = (a - b).abs().max().item<double>() / scale;
  return std::isfinite(error) ? error : 1e30;
}

// The dtypes of a kernel's input, its parameter (weight or tables) and its output.
struct Precisions {
  at::ScalarType x, param, out;
};

// fp32, bf16 and fp16 throughout.
std::vector<Precisions> plain_precisions() {
  return {{at::kFloat, at::kFloat, at::kFloat},
          {at::kBFloat16, at::kBFloat16, at::kBFloat16},
          {at::kHalf, at::kHalf, at::kHalf}};
}

// A slice of a wider channels-last tensor, as the mixer's in_proj split gives.
at::Tensor strided(const at::Tensor& dense) {
  auto sizes = dense.sizes().vec();
  sizes.back() += 8;
  auto wide = torch::zeros(sizes, dense.options());
  auto part = wide.narrow(-1, 8, dense.size(-1));
  part.copy_(dense);
  return part;
}

// Inputs on the GPU (streamed tensors in `dtype`, A, D, bias and state fp32).
ScanInputs gpu_inputs(const Shape& s, at::ScalarType dtype, bool extras, bool slices) {
  const auto o = torch::TensorOptions().device(at::kCUDA);
  const auto f = o.dtype(at::kFloat), t = o.dtype(dtype);
  ScanInputs in;
  in.x = torch::randn({s.batch, s.length, s.channels}, t);
  in.delta = (torch::randn({s.batch, s.length, s.channels}, f) * 0.5).to(dtype);
  in.A = -torch::rand({s.channels, s.d_state}, f) * 2 - 0.1;
  in.B = torch::randn({s.batch, s.length, s.b_groups, s.d_state}, t);
  in.C = torch::randn({s.batch, s.length, s.c_groups, s.d_state}, t);
  in.D = torch::randn({s.channels}, f);
  if (extras) {
    in.z = torch::randn({s.batch, s.length, s.channels}, t);
    in.delta_bias = torch::randn({s.channels}, f) * 0.3;
    in.initial_state = torch::randn({s.batch, s.channels, s.d_state}, f);
  }
  if (slices) {
    in.x = strided(in.x);
    if (in.z) in.z = strided(*in.z);
    const auto flat_B = strided(in.B.flatten(2)), flat_C = strided(in.C.flatten(2));
    in.B = flat_B.view({s.batch, s.length, s.b_groups, s.d_state});
    in.C = flat_C.view({s.batch, s.length, s.c_groups, s.d_state});
  }
  return in;
}

std::vector<at::Tensor*> leaves_of(ScanInputs& in) {
  std::vector<at::Tensor*> leaves = {&in.x, &in.delta, &in.A, &in.B, &in.C, &in.D};
  for (auto* t : {&in.z, &in.delta_bias, &in.initial_state})
    if (*t) leaves.push_back(&**t);
  return leaves;
}

// Same values on the CPU in double, as fresh leaves.
ScanInputs cpu_double(ScanInputs in) {
  for (auto* t : leaves_of(in)) *t = t->detach().to(at::kCPU, at::kDouble);
  return in;
}

const char* kLeafNames[] = {"x", "delta", "A", "B", "C", "D", "z", "delta_bias", "initial_state"};

}  // namespace

TEST_CASE("CUDA selective scan forward equals the reference", "[cuda]") {
  REQUIRE(torch::cuda::is_available());
  torch::manual_seed(21);
  const Shape shapes[] = {
      {1, 1, 64, 16, 1, 4},       // length 1
      {2, 17, 128, 16, 2, 8},     // odd length, B and C with different group counts
      {3, 33, 96, 16, 6, 96},     // a partial channel tile, one C group per channel
      {2, 2048, 256, 16, 4, 16},  // long: 32 chunks
      {1, 9, 12, 3, 3, 12},       // d_state 3, groups of 4 and 1 channels
      {2, 65, 128, 32, 4, 8},     // d_state 32
      {1, 40, 64, 64, 1, 4},      // d_state 64
      {1, 5, 45, 4, 5, 3},        // odd channels: a channel pair straddles the tile's end
      // Many channels: the forward gives each thread more state entries (on
      // an H100 8 and 4 of d_state 16, as at the 15B shape), a partial last stage.
      {8, 70, 4096, 16, 64, 256},
      {4, 33, 4096, 16, 64, 256},
  };
  for (const auto dtype : {at::kFloat, at::kBFloat16, at::kHalf})
    for (const auto& s : shapes)
      for (bool extras : {false, true}) {
        const bool slices = extras;
        INFO("dtype " << c10::toString(dtype) << " batch " << s.batch << " length " << s.length << " channels "
                      << s.channels << " d_state " << s.d_state << " groups " << s.b_groups << "/" << s.c_groups
                      << " extras " << extras);
        const auto in = gpu_inputs(s, dtype, extras, slices);
        torch::NoGradGuard no_grad;
        const auto out = selective_scan(in);
        const auto ref = selective_scan_reference(cpu_double(in));
        CHECK(out.y.is_cuda());
        CHECK(out.y.scalar_type() == dtype);
        CHECK(out.final_state.scalar_type() == at::kFloat);
        CHECK(max_relative(out.y, ref.y) < tolerance(dtype));
        CHECK(max_relative(out.final_state, ref.final_state) < tolerance(dtype));
      }
}

// The loss weights y and the final state by fixed random tensors; either term
// may be left out, so that the backward gets no gradient for that output.
void check_scan_gradients(const Shape& s, at::ScalarType dtype, bool extras, bool weigh_y, bool weigh_state) {
  INFO("dtype " << c10::toString(dtype) << " batch " << s.batch << " length " << s.length << " channels " << s.channels
                << " d_state " << s.d_state << " groups " << s.b_groups << "/" << s.c_groups << " extras " << extras
                << " loss on y " << weigh_y << " on the final state " << weigh_state);
  auto in = gpu_inputs(s, dtype, extras, false);
  auto ref_in = cpu_double(in);
  auto leaves = leaves_of(in), ref_leaves = leaves_of(ref_in);
  for (auto* t : leaves) t->requires_grad_(true);
  for (auto* t : ref_leaves) t->requires_grad_(true);
  // y's weights are values of its dtype: the gradient reaching the kernels (in
  // y's dtype) is then the reference's exactly, and a sum of a few terms that
  // cancel cannot magnify its rounding past the tolerance.
  const auto w_y = torch::randn({s.batch, s.length, s.channels}).to(dtype).to(torch::kDouble);
  const auto w_state = torch::randn({s.batch, s.channels, s.d_state}, torch::kDouble);
  const auto loss = [&](const ScanOutputs& out) {
    const auto device = out.y.device();
    auto sum = torch::zeros({}, torch::TensorOptions().dtype(at::kDouble).device(device));
    if (weigh_y) sum = sum + (out.y.to(at::kDouble) * w_y.to(device)).sum();
    if (weigh_state) sum = sum + (out.final_state.to(at::kDouble) * w_state.to(device)).sum();
    return sum;
  };
  loss(selective_scan(in)).backward();
  loss(selective_scan_reference(ref_in)).backward();
  REQUIRE(leaves.size() == (extras ? 9u : 6u));
  for (std::size_t k = 0; k < leaves.size(); ++k) {
    INFO("d loss / d " << kLeafNames[k]);
    REQUIRE(leaves[k]->grad().defined());
    CHECK(leaves[k]->grad().is_cuda());
    CHECK(leaves[k]->grad().scalar_type() == leaves[k]->scalar_type());
    // Autograd leaves the reference's gradient undefined where the loss does not
    // reach the input (C, D and z without y in the loss): that gradient is zero.
    const auto& ref_grad = ref_leaves[k]->grad();
    const auto expected = ref_grad.defined() ? ref_grad : torch::zeros_like(*ref_leaves[k]);
    CHECK(max_relative(leaves[k]->grad(), expected) < 2 * tolerance(dtype));
  }
}

TEST_CASE("CUDA selective scan gradients equal the reference's", "[cuda]") {
  REQUIRE(torch::cuda::is_available());
  torch::manual_seed(22);
  // The backward walks 64-position chunks from the last, eight warps of eight
  // positions each, 32 channels per block, and sums dB and dC over each
  // group's channels across lanes (stored whole where a warp holds the group,
  // else by atomics across warps and blocks): the shapes cover partial chunks
  // and segments, several chunks, a partial warp, groups that straddle warps
  // or span several, and d_state that is not a power of two. 16-bit inputs
  // prefetch each chunk's rows in 16-byte pieces, or element by element where
  // a row's bytes are not a multiple of 16 (36 channels).
  const Shape shapes[] = {
      {2, 37, 64, 16, 2, 8},     // groups of 32 and 8 channels, stored whole
      {1, 20, 32, 32, 1, 2},     // d_state 32
      {1, 1, 16, 16, 1, 1},      // length 1, a partial warp
      {2, 300, 48, 16, 4, 12},   // five chunks, the last partial; groups of 12 straddle the warps
      {1, 129, 40, 5, 5, 1},     // d_state 5; one C group over both warps
      {1, 70, 64, 64, 1, 4},     // d_state 64, two chunks
      {2, 1000, 96, 3, 96, 3},   // d_state 3, one B group per channel
      {2, 150, 192, 16, 3, 12},  // B groups of 64 channels: two warps' atomics per group
      {2, 100, 36, 16, 3, 9},    // 36 channels: rows of 72 bytes in 16-bit types
  };
  for (const auto dtype : {at::kFloat, at::kBFloat16, at::kHalf})
    for (const auto& s : shapes)
      for (bool extras : {true, false}) check_scan_gradients(s, dtype, extras, true, true);
  // Only one output in the loss: the other's gradient reaches the backward undefined.
  check_scan_gradients({2, 37, 64, 16, 2, 8}, at::kFloat, true, true, false);
  check_scan_gradients({2, 37, 64, 16, 2, 8}, at::kFloat, true, false, true);
  // A long bf16 sequence: the state's gradient runs back through 4096 positions.
  check_scan_gradients({1, 4096, 64, 16, 2, 8}, at::kBFloat16, true, true, true);
}

TEST_CASE("the CUDA decode step reproduces the CUDA full scan token by token", "[cuda]") {
  REQUIRE(torch::cuda::is_available());
  torch::manual_seed(23);
  for (const auto dtype : {at::kFloat, at::kBFloat16}) {
    const Shape s{2, 13, 96, 16, 2, 6};
    const auto in = gpu_inputs(s, dtype, true, false);
    torch::NoGradGuard no_grad;
    const auto full = selective_scan(in);
    auto state = *in.initial_state;
    for (int64_t t = 0; t < s.length; ++t) {
      const StepInputs step{
          state, in.x.select(1, t),  in.delta.select(1, t), in.A, in.B.select(1, t), in.C.select(1, t),
          in.D,  in.z->select(1, t), in.delta_bias,         true};
      const auto out = selective_scan_step(step);
      INFO("dtype " << c10::toString(dtype) << " position " << t);
      REQUIRE(out.y.is_cuda());
      REQUIRE(out.y.scalar_type() == dtype);
      REQUIRE(max_relative(out.y, full.y.select(1, t)) < tolerance(dtype));
      state = out.new_state;
    }
    CHECK(max_relative(state, full.final_state) < 1e-4);
  }
}

TEST_CASE("CUDA causal conv1d and its step equal the reference, with gradients", "[cuda]") {
  REQUIRE(torch::cuda::is_available());
  torch::manual_seed(24);
  const auto cuda = torch::TensorOptions().device(at::kCUDA);
  // Lengths around the kernels' 64-position segments: one partial, one whole, several.
  for (const auto dtype : {at::kFloat, at::kBFloat16, at::kHalf})
    for (int64_t width : {1, 2, 4, 8})
      for (int64_t length : {1, 5, 64, 70, 300})
        for (bool with_bias : {true, false}) {
          const int64_t batch = 2, channels = 130;
          INFO("dtype " << c10::toString(dtype) << " width " << width << " length " << length << " bias " << with_bias);
          auto x = strided(torch::randn({batch, length, channels}, cuda.dtype(dtype)));
          auto weight = torch::randn({channels, width}, cuda.dtype(dtype));
          auto bias = torch::randn({channels}, cuda.dtype(dtype));
          const auto x_ref = x.detach().to(at::kCPU, at::kDouble).requires_grad_(true);
          const auto w_ref = weight.detach().to(at::kCPU, at::kDouble).requires_grad_(true);
          const auto b_ref = bias.detach().to(at::kCPU, at::kDouble).requires_grad_(true);
          x.requires_grad_(true);
          weight.requires_grad_(true);
          bias.requires_grad_(true);
          const auto maybe = [&](const at::Tensor& b) {
            return with_bias ? std::optional<at::Tensor>(b) : std::nullopt;
          };
          const auto out = causal_conv1d(x, weight, maybe(bias));
          const auto ref = causal_conv1d_reference(x_ref, w_ref, maybe(b_ref));
          CHECK(out.scalar_type() == dtype);
          CHECK(max_relative(out, ref) < tolerance(dtype));
          const auto seed = torch::randn({batch, length, channels}, torch::kDouble);
          (out.to(at::kDouble) * seed.to(at::kCUDA)).sum().backward();
          (ref * seed).sum().backward();
          CHECK(x.grad().scalar_type() == dtype);
          CHECK(max_relative(x.grad(), x_ref.grad()) < 2 * tolerance(dtype));
          CHECK(max_relative(weight.grad(), w_ref.grad()) < 2 * tolerance(dtype));
          if (with_bias) {
            CHECK(max_relative(bias.grad(), b_ref.grad()) < 2 * tolerance(dtype));
          } else {
            CHECK(!bias.grad().defined());
          }

          torch::NoGradGuard no_grad;
          auto state = torch::zeros({batch, channels, width}, cuda.dtype(dtype));
          for (int64_t t = 0; t < length; ++t) {
            const auto step = causal_conv1d_step(state, x.select(1, t), weight, maybe(bias));
            REQUIRE(step.y.is_cuda());
            REQUIRE(max_relative(step.y, out.select(1, t)) < tolerance(dtype));
            state = step.new_state;
          }
          CHECK(torch::equal(state, causal_conv1d_state(x, width)));
        }
}

TEST_CASE("CUDA logit losses and their gradients equal the reference's", "[cuda]") {
  REQUIRE(torch::cuda::is_available());
  torch::manual_seed(11);
  const auto o = torch::TensorOptions().device(at::kCUDA);
  // Vocabularies: one entry; odd (element by element); 16-byte vectors in every dtype; a real one's size.
  for (const int64_t vocab : {1, 37, 4096, 128256}) {
    for (const auto dtype : {at::kFloat, at::kBFloat16, at::kHalf}) {
      for (const auto kind : {LogitLoss::ReverseKL, LogitLoss::ForwardKL, LogitLoss::CrossEntropy}) {
        for (const double temperature : {1.0, 2.0}) {
          if (kind == LogitLoss::CrossEntropy && temperature != 1) continue;
          const int64_t rows = vocab > 4096 ? 3 : 5;
          INFO("vocab " << vocab << " dtype " << c10::toString(dtype) << " kind " << int(kind) << " temperature "
                        << temperature);
          LogitLossInputs in;
          in.kind = kind;
          in.temperature = temperature;
          // Logits of a trained model's spread, the teacher near the student.
          in.student = (torch::randn({rows, vocab}, o) * 3).to(dtype);
          in.teacher = (in.student.to(at::kFloat) + torch::randn({rows, vocab}, o)).to(dtype);
          in.targets = torch::randint(vocab, {rows}, o.dtype(at::kLong));
          in.targets[0] = vocab - 1;
          in.grad_scale = torch::rand({rows}, o) + 0.5;
          const auto out = logit_loss(in);

          auto ref_in = in;
          ref_in.student = in.student.to(at::kCPU, at::kDouble);
          ref_in.teacher = in.teacher.to(at::kCPU, at::kDouble);
          ref_in.targets = in.targets.cpu();
          ref_in.grad_scale = in.grad_scale.cpu();
          const auto ref = logit_loss_reference(ref_in);
          CHECK(out.grad.scalar_type() == dtype);
          // Both read the same values and sum in fp32 or better; only the gradient's rounding differs by
          // dtype. The floors cover the one-entry vocabulary, whose losses and gradients are all zero.
          CHECK(max_relative(out.losses, ref.losses, 1.0) < 1e-4);
          CHECK(max_relative(out.grad, ref.grad, 1e-2) < tolerance(dtype));

          in.grad_scale = at::Tensor();
          const auto losses_only = logit_loss(in);
          CHECK(!losses_only.grad.defined());
          CHECK(max_relative(losses_only.losses, ref.losses, 1.0) < 1e-4);
        }
      }
    }
  }
}

TEST_CASE("CUDA RMSNorm and its gradients equal the reference's", "[cuda]") {
  REQUIRE(torch::cuda::is_available());
  torch::manual_seed(12);
  const auto o = torch::TensorOptions().device(at::kCUDA);
  // A bf16 teacher's, and autocast's: fp32 activations and weight, bf16 out.
  auto cases = plain_precisions();
  cases.push_back({at::kBFloat16, at::kFloat, at::kFloat});
  cases.push_back({at::kFloat, at::kFloat, at::kBFloat16});
  for (const auto& sizes : std::vector<std::vector<int64_t>>{{3, 5, 64}, {7, 2048}, {2, 1, 5120}, {4, 1000}, {0, 8}}) {
    for (const auto& c : cases) {
      INFO("sizes " << at::IntArrayRef(sizes) << " x " << c10::toString(c.x) << " weight " << c10::toString(c.param)
                    << " out " << c10::toString(c.out));
      const auto x = (torch::randn(sizes, o) * 2 + 0.5).to(c.x).requires_grad_(true);
      const auto weight = (torch::rand({sizes.back()}, o) + 0.5).to(c.param).requires_grad_(true);
      const auto y = rms_norm(x, weight, 1e-5, c.out);
      CHECK(y.scalar_type() == c.out);
      const auto grad_y = torch::randn(sizes, o).to(c.out);
      y.backward(grad_y);

      const auto ref_x = x.detach().to(at::kCPU, at::kDouble).requires_grad_(true);
      const auto ref_weight = weight.detach().to(at::kCPU, at::kDouble).requires_grad_(true);
      const auto ref_y = rms_norm_reference(ref_x, ref_weight, 1e-5, at::kDouble);
      ref_y.backward(grad_y.to(at::kCPU, at::kDouble));
      if (x.numel() == 0) continue;
      const double tol = std::max(tolerance(c.x), tolerance(c.out));
      CHECK(max_relative(y, ref_y) < tol);
      CHECK(max_relative(x.grad(), ref_x.grad()) < tol);
      CHECK(x.grad().scalar_type() == c.x);
      CHECK(max_relative(weight.grad(), ref_weight.grad()) < tol);
      CHECK(weight.grad().scalar_type() == c.param);
    }
  }
}

TEST_CASE("CUDA SwiGLU and its gradients equal the reference's", "[cuda]") {
  REQUIRE(torch::cuda::is_available());
  torch::manual_seed(13);
  const auto o = torch::TensorOptions().device(at::kCUDA);
  // 16-byte vectors; an odd count (element by element); a slice whose start is not 16-byte aligned.
  for (const auto& sizes : std::vector<std::vector<int64_t>>{{2, 3, 64}, {5, 7}, {0, 4}}) {
    for (const auto dtype : {at::kFloat, at::kBFloat16, at::kHalf}) {
      for (const bool sliced : {false, true}) {
        INFO("sizes " << at::IntArrayRef(sizes) << " dtype " << c10::toString(dtype) << " sliced " << sliced);
        auto gate = (torch::randn(sizes, o) * 3).to(dtype), up = torch::randn(sizes, o).to(dtype);
        if (sliced && gate.numel() > 0) {
          const auto shifted = [&](const at::Tensor& t) {
            return at::cat({t.flatten(), t.flatten().narrow(0, 0, 1)}).narrow(0, 1, t.numel()).view(sizes).detach();
          };
          gate = shifted(gate);
          up = shifted(up);
        }
        gate.requires_grad_(true);
        up.requires_grad_(true);
        const auto y = swiglu(gate, up);
        const auto grad = torch::randn(sizes, o).to(dtype);
        y.backward(grad);

        const auto ref_gate = gate.detach().to(at::kCPU, at::kDouble).requires_grad_(true);
        const auto ref_up = up.detach().to(at::kCPU, at::kDouble).requires_grad_(true);
        const auto ref_y = swiglu_reference(ref_gate, ref_up);
        ref_y.backward(grad.to(at::kCPU, at::kDouble));
        CHECK(y.scalar_type() == dtype);
        if (y.numel() == 0) continue;
        CHECK(max_relative(y, ref_y) < tolerance(dtype));
        CHECK(max_relative(gate.grad(), ref_gate.grad()) < tolerance(dtype));
        CHECK(max_relative(up.grad(), ref_up.grad()) < tolerance(dtype));
      }
    }
  }
}

TEST_CASE("CUDA RoPE rotation and its gradient equal the reference's", "[cuda]") {
  REQUIRE(torch::cuda::is_available());
  torch::manual_seed(15);
  const auto o = torch::TensorOptions().device(at::kCUDA);
  // Autocast's: bf16 heads, fp32 tables, bf16 out.
  auto cases = plain_precisions();
  cases.push_back({at::kBFloat16, at::kFloat, at::kBFloat16});
  const int64_t batch = 2, heads = 3, length = 5, dim = 8;
  for (const bool per_row : {false, true}) {
    for (const auto& c : cases) {
      INFO("per-row tables " << per_row << " x " << c10::toString(c.x) << " tables " << c10::toString(c.param));
      // Heads as attention makes them: [B, T, heads, D] transposed. Tables with
      // different halves (not HF's), so that the gradient's transpose is checked.
      const auto x = torch::randn({batch, length, heads, dim}, o).to(c.x).transpose(1, 2).detach().requires_grad_(true);
      const std::vector<int64_t> table_sizes =
          per_row ? std::vector<int64_t>{batch, length, dim} : std::vector<int64_t>{length, dim};
      const auto angles = torch::randn(table_sizes, o) * 3;
      const auto cos = angles.cos().to(c.param), sin = (angles * 1.3).sin().to(c.param);
      const auto y = rotary(x, cos, sin, c.out);
      CHECK(y.scalar_type() == c.out);
      const auto grad = torch::randn(y.sizes(), o).to(c.out);
      y.backward(grad);

      const auto ref_x = x.detach().to(at::kCPU, at::kDouble).requires_grad_(true);
      const auto ref_y =
          rotary_reference(ref_x, cos.to(at::kCPU, at::kDouble), sin.to(at::kCPU, at::kDouble), at::kDouble);
      ref_y.backward(grad.to(at::kCPU, at::kDouble));
      CHECK(max_relative(y, ref_y) < tolerance(c.out));
      CHECK(max_relative(x.grad(), ref_x.grad()) < tolerance(c.x));
      CHECK(x.grad().scalar_type() == c.x);
    }
  }
}

TEST_CASE("the CUDA kernels refuse what they are not built for, naming it", "[cuda][bad-input]") {
  REQUIRE(torch::cuda::is_available());
  auto in = gpu_inputs({1, 4, 16, 65, 1, 1}, at::kFloat, false, false);
  REQUIRE_ERROR(selective_scan(in), "d_state 65 is not supported");
  const auto x = torch::randn({1, 4, 16}, torch::TensorOptions().device(at::kCUDA));
  REQUIRE_ERROR(causal_conv1d(x, torch::randn({16, 9}, x.options()), std::nullopt), "width 9 is not supported");
  in = gpu_inputs({1, 4, 16, 16, 1, 1}, at::kFloat, false, false);
  in.D = in.D.cpu();
  REQUIRE_ERROR(selective_scan(in), "tensor 'D' is on cpu");
}
