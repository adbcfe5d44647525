#pragma once
// The rotation of rotary position embeddings (RoPE), as HF Llama applies it:
//   out = x * cos + rotate_half(x) * sin,  rotate_half(x) = cat(-x2, x1)
// over halves x1, x2 of the last dimension, in the promoted dtype of x and
// cos; out comes back in `out_dtype` (that one, or a narrower dtype every
// consumer would cast it to anyway: the autocast dtype before attention).
#include <ATen/ATen.h>

namespace hybridize::kernels {

// x [B, heads, T, head_dim] (any strides); cos and sin [T, head_dim] or
// [B, T, head_dim], one dtype. Ground truth in plain LibTorch ops
// (differentiable through autograd), any device.
at::Tensor rotary_reference(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                            at::ScalarType out_dtype);

// What attention calls: one pass each way on CUDA (no gradient for cos and
// sin, which come from positions), the reference elsewhere.
at::Tensor rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, at::ScalarType out_dtype);

}  // namespace hybridize::kernels
