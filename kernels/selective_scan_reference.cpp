#include <ATen/ATen.h>
#include <sstream>

#include "core/error.h"
#include "kernels/selective_scan_kernel.h"

#ifdef HYBRIDIZE_HAVE_CUDA
#include <torch/autograd.h>

#include "kernels/cuda/cuda_kernels.h"
#endif

namespace hybridize::kernels {

namespace {

// fp32 at least; double stays double so gradients can be checked numerically.
at::Tensor widen(const at::Tensor& t) { return t.scalar_type() == at::kDouble ? t : t.to(at::kFloat); }

void expect_shape(const at::Tensor& t, at::IntArrayRef shape, const char* name) {
  if (!t.defined()) fail("selective scan: tensor '", name, "' is missing");
  if (t.sizes() != shape) {
    std::ostringstream text;
    text << "selective scan: tensor '" << name << "' has shape " << t.sizes() << ", expected " << shape;
    fail(text.str());
  }
}

at::Tensor prepare_delta(const at::Tensor& delta, const std::optional<at::Tensor>& bias, bool softplus) {
  auto d = widen(delta);
  if (bias) d = d + widen(*bias);
  return softplus ? at::softplus(d) : d;
}

// B or C of one position, [batch, groups, d_state] -> [batch, channels, d_state].
at::Tensor per_channel(const at::Tensor& grouped, int64_t channels) {
  return widen(grouped).repeat_interleave(channels / grouped.size(1), /*dim=*/1);
}

// The recurrence at one position on fp32 tensors; y before the skip and gate.
std::pair<at::Tensor, at::Tensor> advance(const at::Tensor& state, const at::Tensor& x, const at::Tensor& delta,
                                          const at::Tensor& A, const at::Tensor& B, const at::Tensor& C) {
  const int64_t channels = x.size(1);
  const auto decay = at::exp(delta.unsqueeze(-1) * A);
  const auto new_state = decay * state + (delta * x).unsqueeze(-1) * per_channel(B, channels);
  const auto y = (new_state * per_channel(C, channels)).sum(-1);
  return {y, new_state};
}

at::Tensor finish(const at::Tensor& y, const at::Tensor& x, const at::Tensor& D, const std::optional<at::Tensor>& z) {
  auto out = y + widen(D) * x;
  if (z) out = out * at::silu(widen(*z));
  return out;
}

}  // namespace

void check_scan_inputs(const ScanInputs& in) {
  if (!in.x.defined() || in.x.dim() != 3) fail("selective scan: tensor 'x' must be [batch, length, channels]");
  const int64_t batch = in.x.size(0), length = in.x.size(1), channels = in.x.size(2);
  if (!in.A.defined() || in.A.dim() != 2) fail("selective scan: tensor 'A' must be [channels, d_state]");
  const int64_t state = in.A.size(1);
  for (const auto& [tensor, name] : {std::pair{&in.B, "B"}, std::pair{&in.C, "C"}}) {
    if (!tensor->defined() || tensor->dim() != 4)
      fail("selective scan: tensor '", name, "' must be [batch, length, groups, d_state]");
    const int64_t groups = tensor->size(2);
    if (groups == 0 || channels % groups != 0)
      fail("selective scan: ", groups, " groups of '", name, "' do not divide ", channels, " channels");
    expect_shape(*tensor, {batch, length, groups, state}, name);
  }
  expect_shape(in.delta, {batch, length, channels}, "delta");
  expect_shape(in.A, {channels, state}, "A");
  expect_shape(in.D, {channels}, "D");
  if (in.z) expect_shape(*in.z, {batch, length, channels}, "z");
  if (in.delta_bias) expect_shape(*in.delta_bias, {channels}, "delta_bias");
  if (in.initial_state) expect_shape(*in.initial_state, {batch, channels, state}, "initial_state");
}

ScanOutputs selective_scan_reference(const ScanInputs& in) {
  check_scan_inputs(in);
  const int64_t batch = in.x.size(0), length = in.x.size(1), channels = in.x.size(2), d_state = in.A.size(1);
  const auto x = widen(in.x);
  const auto delta = prepare_delta(in.delta, in.delta_bias, in.delta_softplus);
  const auto A = widen(in.A);
  auto state = in.initial_state ? widen(*in.initial_state) : at::zeros({batch, channels, d_state}, x.options());
  std::vector<at::Tensor> ys;
  ys.reserve(length);
  for (int64_t t = 0; t < length; ++t) {
    auto [y, next] = advance(state, x.select(1, t), delta.select(1, t), A, in.B.select(1, t), in.C.select(1, t));
    ys.push_back(y);
    state = next;
  }
  const auto y = length > 0 ? at::stack(ys, 1) : at::zeros({batch, 0, channels}, x.options());
  return {finish(y, x, in.D, in.z).to(in.x.scalar_type()), state};
}

StepOutputs selective_scan_step_reference(const StepInputs& in) {
  const auto x = widen(in.x);
  const auto delta = prepare_delta(in.delta, in.delta_bias, in.delta_softplus);
  auto [y, next] = advance(widen(in.state), x, delta, widen(in.A), in.B, in.C);
  return {finish(y, x, in.D, in.z).to(in.x.scalar_type()), next};
}

#ifdef HYBRIDIZE_HAVE_CUDA
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Forward and backward on the CUDA kernels; the forward saves the state at
// checkpoint intervals for the backward. Absent optional inputs make no
// autograd edge and get no gradient.
struct CudaScan : torch::autograd::Function<CudaScan> {
  static variable_list forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& delta, const at::Tensor& A,
                               const at::Tensor& B, const at::Tensor& C, const at::Tensor& D,
                               const std::optional<at::Tensor>& z, const std::optional<at::Tensor>& delta_bias,
                               const std::optional<at::Tensor>& initial_state, bool delta_softplus) {
    const at::Tensor none;
    ctx->save_for_backward(
        {x, delta, A, B, C, D, z.value_or(none), delta_bias.value_or(none), initial_state.value_or(none)});
    ctx->saved_data["delta_softplus"] = delta_softplus;
    cuda::ScanCheckpoints checkpoints;
    const auto out = cuda::selective_scan_forward({x, delta, A, B, C, D, z, delta_bias, delta_softplus, initial_state},
                                                  &checkpoints);
    ctx->saved_data["checkpoint_states"] = checkpoints.states;
    ctx->saved_data["checkpoint_interval"] = checkpoints.interval;
    return {out.y, out.final_state};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto in = inputs_of(ctx->get_saved_variables(), ctx->saved_data["delta_softplus"].toBool());
    const cuda::ScanCheckpoints checkpoints{ctx->saved_data["checkpoint_states"].toTensor(),
                                            ctx->saved_data["checkpoint_interval"].toInt()};
    const auto g = cuda::selective_scan_backward(in, checkpoints, grad_outputs[0], grad_outputs[1]);
    // One gradient per forward argument; the last, delta_softplus, is not a tensor.
    return {g.x, g.delta, g.A, g.B, g.C, g.D, g.z, g.delta_bias, g.initial_state, at::Tensor()};
  }

  static ScanInputs inputs_of(const variable_list& t, bool delta_softplus) {
    const auto optional = [](const at::Tensor& v) { return v.defined() ? std::optional<at::Tensor>(v) : std::nullopt; };
    return {t[0], t[1], t[2], t[3], t[4], t[5], optional(t[6]), optional(t[7]), delta_softplus, optional(t[8])};
  }
};

bool any_requires_grad(std::initializer_list<const at::Tensor*> tensors,
                       std::initializer_list<const std::optional<at::Tensor>*> optional) {
  if (!at::GradMode::is_enabled()) return false;
  for (const auto* t : tensors)
    if (t->requires_grad()) return true;
  for (const auto* t : optional)
    if (*t && (*t)->requires_grad()) return true;
  return false;
}

bool scan_needs_grad(const ScanInputs& in) {
  return any_requires_grad({&in.x, &in.delta, &in.A, &in.B, &in.C, &in.D}, {&in.z, &in.delta_bias, &in.initial_state});
}

bool step_needs_grad(const StepInputs& in) {
  return any_requires_grad({&in.state, &in.x, &in.delta, &in.A, &in.B, &in.C, &in.D}, {&in.z, &in.delta_bias});
}

}  // namespace
#endif

// CUDA inputs (fp32, bf16, fp16) run the kernels of kernels/cuda when built;
// everything else, double included, runs the reference. Only a scan that needs
// gradients pays for the autograd node and the saved checkpoints.
ScanOutputs selective_scan(const ScanInputs& in) {
#ifdef HYBRIDIZE_HAVE_CUDA
  if (in.x.is_cuda() && in.x.scalar_type() != at::kDouble) {
    if (!scan_needs_grad(in)) return cuda::selective_scan_forward(in);
    const auto out = CudaScan::apply(in.x, in.delta, in.A, in.B, in.C, in.D, in.z, in.delta_bias, in.initial_state,
                                     in.delta_softplus);
    return {out[0], out[1]};
  }
#endif
  return selective_scan_reference(in);
}

// Decoding needs no gradient; a step that does (rare) takes the differentiable reference.
StepOutputs selective_scan_step(const StepInputs& in) {
#ifdef HYBRIDIZE_HAVE_CUDA
  if (in.x.is_cuda() && in.x.scalar_type() != at::kDouble && !step_needs_grad(in)) return cuda::selective_scan_step(in);
#endif
  return selective_scan_step_reference(in);
}

}  // namespace hybridize::kernels
