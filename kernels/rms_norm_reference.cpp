#include "kernels/rms_norm_kernel.h"

#include "core/error.h"

#ifdef HYBRIDIZE_HAVE_CUDA
#include <torch/autograd.h>

#include "kernels/cuda/cuda_kernels.h"
#endif

namespace hybridize::kernels {

namespace {
void check(const at::Tensor& x, const at::Tensor& weight) {
  if (x.dim() < 1) fail("rms norm: the input has no dimensions");
  if (weight.dim() != 1 || weight.size(0) != x.size(-1))
    fail("rms norm: tensor 'weight' must be [", x.size(-1), "], got ", weight.sizes());
}
}  // namespace

at::Tensor rms_norm_reference(const at::Tensor& x, const at::Tensor& weight, double eps, at::ScalarType out_dtype) {
  check(x, weight);
  const auto wide = x.scalar_type() == at::kDouble ? x : x.to(at::kFloat);
  const auto normed = wide * at::rsqrt(wide.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return (weight * normed.to(x.scalar_type())).to(out_dtype);
}

#ifdef HYBRIDIZE_HAVE_CUDA
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct CudaRmsNorm : torch::autograd::Function<CudaRmsNorm> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight, double eps,
                            at::ScalarType out_dtype) {
    auto out = cuda::rms_norm_forward(x, weight, eps, out_dtype);
    ctx->save_for_backward({x, weight, out.rstd});
    return out.y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto& weight = saved[1];
    auto grads = cuda::rms_norm_backward(grad_outputs[0], saved[0], weight, saved[2], ctx->needs_input_grad(1));
    if (grads.weight.defined()) grads.weight = grads.weight.to(weight.scalar_type());
    return {grads.x, grads.weight, at::Tensor(), at::Tensor()};
  }
};

}  // namespace
#endif

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps, at::ScalarType out_dtype) {
  check(x, weight);
#ifdef HYBRIDIZE_HAVE_CUDA
  if (x.is_cuda() && x.scalar_type() != at::kDouble && weight.scalar_type() != at::kDouble && out_dtype != at::kDouble)
    return CudaRmsNorm::apply(x, weight, eps, out_dtype);
#endif
  return rms_norm_reference(x, weight, eps, out_dtype);
}

}  // namespace hybridize::kernels
