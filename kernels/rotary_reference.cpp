#include "kernels/rotary_kernel.h"

#include "core/error.h"

#ifdef HYBRIDIZE_HAVE_CUDA
#include <torch/autograd.h>

#include "kernels/cuda/cuda_kernels.h"
#endif

namespace hybridize::kernels {

namespace {
void check(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  if (x.dim() != 4 || x.size(-1) % 2 != 0) fail("rotary: tensor 'x' must be [batch, heads, length, even head_dim]");
  const bool shared = cos.dim() == 2, per_row = cos.dim() == 3 && cos.size(0) == x.size(0);
  if (!(shared || per_row) || cos.size(-2) != x.size(2) || cos.size(-1) != x.size(3))
    fail("rotary: tensor 'cos' must be [", x.size(2), ", ", x.size(3), "] or [", x.size(0), ", ", x.size(2), ", ",
         x.size(3), "], got ", cos.sizes());
  if (sin.sizes() != cos.sizes() || sin.scalar_type() != cos.scalar_type())
    fail("rotary: tensor 'sin' must match 'cos' (", cos.sizes(), " ", c10::toString(cos.scalar_type()), ")");
}
}  // namespace

at::Tensor rotary_reference(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                            at::ScalarType out_dtype) {
  check(x, cos, sin);
  // Broadcast [T, D] or [B, T, D] over the heads dimension.
  const auto c = cos.dim() == 3 ? cos.unsqueeze(1) : cos;
  const auto s = sin.dim() == 3 ? sin.unsqueeze(1) : sin;
  const auto halves = x.chunk(2, -1);
  const auto rotated = at::cat({-halves[1], halves[0]}, -1);
  return (x * c + rotated * s).to(out_dtype);
}

#ifdef HYBRIDIZE_HAVE_CUDA
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct CudaRotary : torch::autograd::Function<CudaRotary> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                            at::ScalarType out_dtype) {
    ctx->save_for_backward({cos, sin});
    ctx->saved_data["x_dtype"] = x.scalar_type();
    return cuda::rotary_forward(x, cos, sin, out_dtype, /*transposed=*/false);
  }

  // x's gradient is out's under the transposed rotation.
  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto grad = cuda::rotary_forward(grad_outputs[0], saved[0], saved[1],
                                           ctx->saved_data["x_dtype"].toScalarType(), /*transposed=*/true);
    return {grad, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace
#endif

at::Tensor rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, at::ScalarType out_dtype) {
  check(x, cos, sin);
#ifdef HYBRIDIZE_HAVE_CUDA
  const bool gradient_for_tables = at::GradMode::is_enabled() && (cos.requires_grad() || sin.requires_grad());
  if (x.is_cuda() && x.scalar_type() != at::kDouble && cos.scalar_type() != at::kDouble && out_dtype != at::kDouble &&
      !gradient_for_tables)
    return CudaRotary::apply(x, cos, sin, out_dtype);
#endif
  return rotary_reference(x, cos, sin, out_dtype);
}

}  // namespace hybridize::kernels
