#include "kernels/swiglu_kernel.h"

#include "core/error.h"

#ifdef HYBRIDIZE_HAVE_CUDA
#include <torch/autograd.h>

#include "kernels/cuda/cuda_kernels.h"
#endif

namespace hybridize::kernels {

namespace {
void check(const at::Tensor& gate, const at::Tensor& up) {
  if (gate.sizes() != up.sizes()) fail("swiglu: tensor 'up' is ", up.sizes(), " but 'gate' ", gate.sizes());
}
}  // namespace

at::Tensor swiglu_reference(const at::Tensor& gate, const at::Tensor& up) {
  check(gate, up);
  return at::silu(gate) * up;
}

#ifdef HYBRIDIZE_HAVE_CUDA
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct CudaSwiGLU : torch::autograd::Function<CudaSwiGLU> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& gate, const at::Tensor& up) {
    ctx->save_for_backward({gate, up});
    return cuda::swiglu_forward(gate, up);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto grads = cuda::swiglu_backward(grad_outputs[0], saved[0], saved[1]);
    return {grads.gate, grads.up};
  }
};

}  // namespace
#endif

at::Tensor swiglu(const at::Tensor& gate, const at::Tensor& up) {
  check(gate, up);
#ifdef HYBRIDIZE_HAVE_CUDA
  if (gate.is_cuda() && gate.scalar_type() == up.scalar_type() && gate.scalar_type() != at::kDouble)
    return CudaSwiGLU::apply(gate, up);
#endif
  return swiglu_reference(gate, up);
}

}  // namespace hybridize::kernels
