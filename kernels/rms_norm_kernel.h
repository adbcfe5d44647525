#pragma once
// RMSNorm as HF Llama computes it: statistics in fp32, the normalised values
// rounded to the input's dtype, then scaled by the weight:
//   y = weight * to(x.dtype)(x * rsqrt(mean(x^2) + eps))
// y comes out in `out_dtype`: the promotion of x's and the weight's dtypes, or
// a narrower one that every consumer would cast y to anyway (the autocast
// dtype), which saves the consumers' casts and is the same values.
#include <ATen/ATen.h>

namespace hybridize::kernels {

// x [..., hidden]; weight [hidden]. Ground truth in plain LibTorch ops
// (differentiable through autograd), any device.
at::Tensor rms_norm_reference(const at::Tensor& x, const at::Tensor& weight, double eps, at::ScalarType out_dtype);

// What the model calls: one pass forward and one backward on CUDA, the reference elsewhere.
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps, at::ScalarType out_dtype);

}  // namespace hybridize::kernels
