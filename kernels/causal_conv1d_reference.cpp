#include "kernels/causal_conv1d_kernel.h"

#include "core/error.h"

#ifdef HYBRIDIZE_HAVE_CUDA
#include <torch/autograd.h>

#include "kernels/cuda/cuda_kernels.h"
#endif

namespace hybridize::kernels {

namespace {
void check(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias, int64_t channel_dim) {
  if (weight.dim() != 2) fail("causal conv1d: tensor 'weight' must be [channels, width]");
  if (x.size(channel_dim) != weight.size(0))
    fail("causal conv1d: input has ", x.size(channel_dim), " channels but 'weight' has ", weight.size(0));
  if (bias && (bias->dim() != 1 || bias->size(0) != weight.size(0)))
    fail("causal conv1d: tensor 'bias' must be [", weight.size(0), "]");
}
}  // namespace

at::Tensor causal_conv1d_reference(const at::Tensor& x, const at::Tensor& weight,
                                   const std::optional<at::Tensor>& bias) {
  if (x.dim() != 3) fail("causal conv1d: input must be [batch, length, channels]");
  check(x, weight, bias, 2);
  const int64_t length = x.size(1), channels = x.size(2), width = weight.size(1);
  // Depthwise conv1d padded on both sides; keeping the first `length` outputs makes it causal.
  const auto out = at::conv1d(x.transpose(1, 2), weight.unsqueeze(1), bias ? *bias : at::Tensor(), /*stride=*/1,
                              /*padding=*/width - 1, /*dilation=*/1, /*groups=*/channels);
  return at::silu(out.narrow(2, 0, length)).transpose(1, 2);
}

at::Tensor causal_conv1d_state(const at::Tensor& x, int64_t width) {
  const int64_t length = x.size(1);
  const auto channels_first = x.transpose(1, 2);
  if (length >= width) return channels_first.narrow(2, length - width, width).contiguous();
  return at::constant_pad_nd(channels_first, {width - length, 0});
}

ConvStep causal_conv1d_step_reference(const at::Tensor& state, const at::Tensor& x_t, const at::Tensor& weight,
                                      const std::optional<at::Tensor>& bias) {
  check(x_t, weight, bias, 1);
  const int64_t width = weight.size(1);
  if (state.dim() != 3 || state.size(1) != weight.size(0) || state.size(2) != width)
    fail("causal conv1d: tensor 'state' must be [batch, ", weight.size(0), ", ", width, "]");
  const auto new_state = at::cat({state.narrow(2, 1, width - 1), x_t.unsqueeze(2).to(state.scalar_type())}, 2);
  auto y = (new_state.to(weight.scalar_type()) * weight).sum(-1);
  if (bias) y = y + *bias;
  return {at::silu(y), new_state};
}

#ifdef HYBRIDIZE_HAVE_CUDA
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Forward and backward on the CUDA kernels (the backward recomputes the
// pre-activations from x). A missing bias makes no autograd edge and gets no gradient.
struct CudaConv : torch::autograd::Function<CudaConv> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight,
                            const std::optional<at::Tensor>& bias) {
    ctx->save_for_backward({x, weight, bias.value_or(at::Tensor())});
    return cuda::causal_conv1d_forward(x, weight, bias);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    if (!grad_outputs[0].defined()) return {at::Tensor(), at::Tensor(), at::Tensor()};
    const auto g = cuda::causal_conv1d_backward(saved[0], saved[1], optional(saved[2]), grad_outputs[0]);
    return {g.x, g.weight, g.bias};
  }

  static std::optional<at::Tensor> optional(const at::Tensor& t) {
    return t.defined() ? std::optional<at::Tensor>(t) : std::nullopt;
  }
};

}  // namespace
#endif

// CUDA inputs (fp32, bf16, fp16) run the kernels of kernels/cuda when built;
// everything else runs the reference.
at::Tensor causal_conv1d(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias) {
#ifdef HYBRIDIZE_HAVE_CUDA
  if (x.is_cuda() && x.scalar_type() != at::kDouble) return CudaConv::apply(x, weight, bias);
#endif
  return causal_conv1d_reference(x, weight, bias);
}

// Decoding needs no gradient; a step that does (rare) takes the differentiable reference.
ConvStep causal_conv1d_step(const at::Tensor& state, const at::Tensor& x_t, const at::Tensor& weight,
                            const std::optional<at::Tensor>& bias) {
#ifdef HYBRIDIZE_HAVE_CUDA
  const bool needs_grad = at::GradMode::is_enabled() && (state.requires_grad() || x_t.requires_grad() ||
                                                         weight.requires_grad() || (bias && bias->requires_grad()));
  if (state.is_cuda() && state.scalar_type() != at::kDouble && !needs_grad)
    return cuda::causal_conv1d_step(state, x_t, weight, bias);
#endif
  return causal_conv1d_step_reference(state, x_t, weight, bias);
}

}  // namespace hybridize::kernels
