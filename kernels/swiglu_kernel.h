#pragma once
// The gated MLP's activation: silu(gate) * up, element by element, as
// torch computes it (silu's result rounded to the inputs' dtype before the
// product).
#include <ATen/ATen.h>

namespace hybridize::kernels {

// gate and up of one shape. Ground truth in plain LibTorch ops (differentiable
// through autograd), any device.
at::Tensor swiglu_reference(const at::Tensor& gate, const at::Tensor& up);

// What the MLP calls: one pass each way on CUDA (and nothing saved but the
// inputs), the reference elsewhere.
at::Tensor swiglu(const at::Tensor& gate, const at::Tensor& up);

}  // namespace hybridize::kernels
