// RMSNorm forward and backward (semantics: kernels/rms_norm_kernel.h), one block per
// row. Under autocast the reference's chain (a cast, the square, the mean,
// the scaling, the weight, and the consumers' casts to bf16; in backward
// autograd through each) makes about a dozen passes over fp32 activations;
// these make one each way. The weight's gradient sums over rows in shared
// memory per block, then over blocks on the host.
#include <ATen/cuda/CUDAContext.h>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_kernels.h"

namespace hybridize::kernels::cuda {

namespace {

constexpr int kThreads = 256;

// The sum of v over the block; every thread gets it. `shared` holds kThreads / 32 floats.
__device__ __forceinline__ float block_sum(float v, float* shared) {
  for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  if (threadIdx.x % 32 == 0) shared[threadIdx.x / 32] = v;
  __syncthreads();
  float sum = 0.f;
  for (int i = 0; i < kThreads / 32; ++i) sum += shared[i];
  __syncthreads();  // `shared` may be reused
  return sum;
}

template <class Tx, class Ty>
__global__ void __launch_bounds__(kThreads)
    rms_norm_forward_kernel(const Tx* x, const float* weight, Ty* y, float* rstd, int hidden, float eps) {
  __shared__ float shared[kThreads / 32];
  const int64_t offset = int64_t(blockIdx.x) * hidden;
  float squares = 0.f;
  for (int i = threadIdx.x; i < hidden; i += kThreads) {
    const float v = load(x + offset + i);
    squares += v * v;
  }
  const float r = rsqrtf(block_sum(squares, shared) / float(hidden) + eps);
  for (int i = threadIdx.x; i < hidden; i += kThreads)
    y[offset + i] = from_float<Ty>(weight[i] * round_to<Tx>(load(x + offset + i) * r));
  if (threadIdx.x == 0) rstd[blockIdx.x] = r;
}

// With n = x r and r = (mean(x^2) + eps)^(-1/2), the gradient of x is
// r (g w) - x r^3 / hidden * sum(g w x); the rounding of n counts as the
// identity, as autograd takes a cast. The weight's is sum over rows of g
// times the rounded n (what the forward multiplied it by).
template <class Tx, class Ty>
__global__ void __launch_bounds__(kThreads)
    rms_norm_backward_kernel(const Ty* grad_y, const Tx* x, const float* weight, const float* rstd, Tx* grad_x,
                             float* weight_partials, int64_t rows, int hidden) {
  __shared__ float shared[kThreads / 32];
  extern __shared__ float weight_sums[];  // [hidden], each column only ever touched by one thread
  if (weight_partials)
    for (int i = threadIdx.x; i < hidden; i += kThreads) weight_sums[i] = 0.f;
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const int64_t offset = row * hidden;
    const float r = rstd[row];
    float dot = 0.f;
    for (int i = threadIdx.x; i < hidden; i += kThreads)
      dot += load(grad_y + offset + i) * weight[i] * load(x + offset + i);
    const float c = block_sum(dot, shared) * r * r * r / float(hidden);
    for (int i = threadIdx.x; i < hidden; i += kThreads) {
      const float g = load(grad_y + offset + i), xv = load(x + offset + i);
      grad_x[offset + i] = from_float<Tx>(r * g * weight[i] - c * xv);
      if (weight_partials) weight_sums[i] += g * round_to<Tx>(xv * r);
    }
  }
  if (weight_partials)
    for (int i = threadIdx.x; i < hidden; i += kThreads)
      weight_partials[int64_t(blockIdx.x) * hidden + i] = weight_sums[i];
}

// x as [rows, hidden], contiguous.
at::Tensor rows_of(const at::Tensor& x) { return x.contiguous().view({-1, x.size(-1)}); }

void check_hidden(int64_t hidden, const char* what) {
  if (hidden < 1 || hidden > int64_t(48) * 1024) fail(what, ": hidden size ", hidden, " is not supported (1 to 49152)");
}

}  // namespace

RmsNormForward rms_norm_forward(const at::Tensor& x, const at::Tensor& weight, double eps, at::ScalarType out_dtype) {
  const char* what = "rms norm (CUDA)";
  const c10::cuda::CUDAGuard guard(x.device());
  expect_device(weight, x.device(), what, "weight");
  const int64_t hidden = x.size(-1);
  check_hidden(hidden, what);
  const auto x2 = rows_of(x);
  const auto w = weight.to(at::kFloat).contiguous();
  const int64_t rows = x2.size(0);
  if (rows > 0x7fffffff) fail(what, ": ", rows, " rows are more than one launch takes");
  RmsNormForward out{at::empty(x.sizes(), x.options().dtype(out_dtype)),
                     at::empty({rows}, x.options().dtype(at::kFloat))};
  if (rows == 0) return out;
  dispatch_dtype(x.scalar_type(), what, [&](auto x_tag) {
    using Tx = decltype(x_tag);
    dispatch_dtype(out_dtype, what, [&](auto y_tag) {
      using Ty = decltype(y_tag);
      rms_norm_forward_kernel<Tx, Ty><<<unsigned(rows), kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(
          data<Tx>(x2), w.data_ptr<float>(), mutable_data<Ty>(out.y), out.rstd.data_ptr<float>(), int(hidden),
          float(eps));
    });
  });
  check_launch(what);
  return out;
}

RmsNormGradients rms_norm_backward(const at::Tensor& grad_y, const at::Tensor& x, const at::Tensor& weight,
                                   const at::Tensor& rstd, bool need_weight) {
  const char* what = "rms norm backward (CUDA)";
  const c10::cuda::CUDAGuard guard(x.device());
  const int64_t hidden = x.size(-1);
  check_hidden(hidden, what);
  const auto x2 = rows_of(x), g2 = rows_of(grad_y);
  const auto w = weight.to(at::kFloat).contiguous();
  const int64_t rows = x2.size(0);
  RmsNormGradients grads;
  grads.x = at::empty(x.sizes(), x.options());
  // Enough blocks to fill the GPU; each sums its rows' weight gradients once.
  const int64_t blocks =
      std::min<int64_t>(rows, 8 * int64_t(at::cuda::getCurrentDeviceProperties()->multiProcessorCount));
  auto partials =
      need_weight ? at::empty({std::max<int64_t>(blocks, 1), hidden}, x.options().dtype(at::kFloat)) : at::Tensor();
  if (rows > 0) {
    const size_t bytes = need_weight ? size_t(hidden) * sizeof(float) : 0;
    dispatch_dtype(x.scalar_type(), what, [&](auto x_tag) {
      using Tx = decltype(x_tag);
      dispatch_dtype(grad_y.scalar_type(), what, [&](auto y_tag) {
        using Ty = decltype(y_tag);
        const auto kernel = rms_norm_backward_kernel<Tx, Ty>;
        if (bytes > 48 * 1024) cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes));
        kernel<<<unsigned(blocks), kThreads, bytes, at::cuda::getCurrentCUDAStream()>>>(
            data<Ty>(g2), data<Tx>(x2), w.data_ptr<float>(), rstd.data_ptr<float>(), mutable_data<Tx>(grads.x),
            need_weight ? partials.data_ptr<float>() : nullptr, rows, int(hidden));
      });
    });
    check_launch(what);
  }
  if (need_weight) grads.weight = rows > 0 ? partials.sum(0) : at::zeros({hidden}, partials.options());
  return grads;
}

}  // namespace hybridize::kernels::cuda
