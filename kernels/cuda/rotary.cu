// The RoPE rotation (semantics: kernels/rotary_kernel.h) and its transpose (the
// gradient) as one pass. Under autocast the reference multiplies bf16 heads
// by fp32 tables, so it runs two products, a concatenation, a negation and a
// sum in fp32, and attention then casts the result back to bf16; here each
// thread reads one pair of elements (i, i + head_dim / 2) and writes the pair
// in the output's dtype.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_kernels.h"

namespace hybridize::kernels::cuda {

namespace {

constexpr int kThreads = 256;

struct RotaryParams {
  const void* x;
  void* out;
  const float *cos, *sin;                           // [T, D] or [B, T, D], contiguous
  int64_t xs[3], os[3];                             // strides of batch, heads and positions (the last is 1)
  int64_t heads, length, half, table_batch_stride;  // 0: one table for every row
  int64_t pairs;                                    // B * heads * T * half
};

template <class Tx, class Ty, bool kTransposed>
__global__ void __launch_bounds__(kThreads) rotary_kernel(const RotaryParams p) {
  const Tx* x = static_cast<const Tx*>(p.x);
  Ty* out = static_cast<Ty*>(p.out);
  for (int64_t idx = blockIdx.x * int64_t(kThreads) + threadIdx.x; idx < p.pairs;
       idx += int64_t(gridDim.x) * kThreads) {
    const int64_t i = idx % p.half, row = idx / p.half, t = row % p.length, bh = row / p.length;
    const int64_t h = bh % p.heads, b = bh / p.heads;
    const int64_t xo = b * p.xs[0] + h * p.xs[1] + t * p.xs[2] + i, oo = b * p.os[0] + h * p.os[1] + t * p.os[2] + i;
    const int64_t to = b * p.table_batch_stride + t * 2 * p.half + i;
    const float lo = load(x + xo), hi = load(x + xo + p.half);
    const float c_lo = p.cos[to], c_hi = p.cos[to + p.half], s_lo = p.sin[to], s_hi = p.sin[to + p.half];
    // out = R x with R = [[c_lo, -s_lo], [s_hi, c_hi]] per pair; the gradient takes R's transpose.
    const float out_lo = kTransposed ? lo * c_lo + hi * s_hi : lo * c_lo - hi * s_lo;
    const float out_hi = kTransposed ? hi * c_hi - lo * s_lo : hi * c_hi + lo * s_hi;
    out[oo] = from_float<Ty>(out_lo);
    out[oo + p.half] = from_float<Ty>(out_hi);
  }
}

}  // namespace

at::Tensor rotary_forward(const at::Tensor& x_in, const at::Tensor& cos, const at::Tensor& sin,
                          at::ScalarType out_dtype, bool transposed) {
  const char* what = "rotary (CUDA)";
  const c10::cuda::CUDAGuard guard(x_in.device());
  expect_device(cos, x_in.device(), what, "cos");
  expect_device(sin, x_in.device(), what, "sin");
  const auto x = x_in.stride(-1) == 1 ? x_in : x_in.contiguous();
  // Dense layouts (a transposed projection) keep their strides, so that attention reads what it would have.
  auto out = at::empty_like(x, x.options().dtype(out_dtype));
  if (out.stride(-1) != 1) out = at::empty(x.sizes(), x.options().dtype(out_dtype));
  const auto c = cos.to(at::kFloat).contiguous(), s = sin.to(at::kFloat).contiguous();
  RotaryParams p{};
  p.x = x.data_ptr();
  p.out = out.data_ptr();
  p.cos = c.data_ptr<float>();
  p.sin = s.data_ptr<float>();
  for (int k = 0; k < 3; ++k) {
    p.xs[k] = x.stride(k);
    p.os[k] = out.stride(k);
  }
  p.heads = x.size(1);
  p.length = x.size(2);
  p.half = x.size(3) / 2;
  p.table_batch_stride = c.dim() == 3 ? c.stride(0) : 0;
  p.pairs = x.numel() / 2;
  if (p.pairs == 0) return out;
  const int64_t blocks = grid_stride_blocks(p.pairs, kThreads);
  dispatch_dtype(x.scalar_type(), what, [&](auto x_tag) {
    using Tx = decltype(x_tag);
    dispatch_dtype(out_dtype, what, [&](auto y_tag) {
      using Ty = decltype(y_tag);
      const auto kernel = transposed ? rotary_kernel<Tx, Ty, true> : rotary_kernel<Tx, Ty, false>;
      kernel<<<blocks, kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(p);
    });
  });
  check_launch(what);
  return out;
}

}  // namespace hybridize::kernels::cuda
