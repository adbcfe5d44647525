// silu(gate) * up and its gradients (semantics: kernels/swiglu_kernel.h) as one
// element-wise pass each way. The reference runs silu and the product
// forward, and in backward two products and silu's gradient, and keeps
// silu(gate) for it: nine passes over [tokens, intermediate] tensors where
// these take five, and one activation less saved.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_kernels.h"

namespace hybridize::kernels::cuda {

namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ float sigmoid(float v) { return 1.f / (1.f + expf(-v)); }

template <class T, int kVec>
__global__ void __launch_bounds__(kThreads) swiglu_forward_kernel(const T* gate, const T* up, T* out, int64_t vectors) {
  for (int64_t i = blockIdx.x * int64_t(kThreads) + threadIdx.x; i < vectors; i += int64_t(gridDim.x) * kThreads) {
    float g[kVec], u[kVec], y[kVec];
    load_vector<T, kVec>(gate + i * kVec, g);
    load_vector<T, kVec>(up + i * kVec, u);
#pragma unroll
    for (int e = 0; e < kVec; ++e) y[e] = round_to<T>(g[e] * sigmoid(g[e])) * u[e];
    store_vector<T, kVec>(out + i * kVec, y);
  }
}

// With s = silu(g): d up = grad s, d s = grad up, and silu's derivative
// sigmoid(g) (1 + g (1 - sigmoid(g))).
template <class T, int kVec>
__global__ void __launch_bounds__(kThreads)
    swiglu_backward_kernel(const T* grad, const T* gate, const T* up, T* grad_gate, T* grad_up, int64_t vectors) {
  for (int64_t i = blockIdx.x * int64_t(kThreads) + threadIdx.x; i < vectors; i += int64_t(gridDim.x) * kThreads) {
    float d[kVec], g[kVec], u[kVec], dg[kVec], du[kVec];
    load_vector<T, kVec>(grad + i * kVec, d);
    load_vector<T, kVec>(gate + i * kVec, g);
    load_vector<T, kVec>(up + i * kVec, u);
#pragma unroll
    for (int e = 0; e < kVec; ++e) {
      const float sig = sigmoid(g[e]);
      du[e] = d[e] * round_to<T>(g[e] * sig);
      dg[e] = round_to<T>(d[e] * u[e]) * sig * (1.f + g[e] * (1.f - sig));
    }
    store_vector<T, kVec>(grad_gate + i * kVec, dg);
    store_vector<T, kVec>(grad_up + i * kVec, du);
  }
}

// Calls launch(T{}, kVec, vectors, blocks) with 16-byte vectors where every tensor allows, else single elements.
template <class Launch>
void dispatch(const std::vector<at::Tensor>& tensors, const char* what, Launch&& launch) {
  const auto& first = tensors.front();
  const int64_t numel = first.numel();
  bool vectorized = numel % (16 / first.element_size()) == 0;
  for (const auto& t : tensors) vectorized = vectorized && data_aligned16(t);
  dispatch_dtype(first.scalar_type(), what, [&](auto tag) {
    using T = decltype(tag);
    constexpr int kVector = 16 / sizeof(T);
    const int64_t vectors = vectorized ? numel / kVector : numel;
    const int64_t blocks = grid_stride_blocks(vectors, kThreads);
    if (vectorized)
      launch(tag, std::integral_constant<int, kVector>{}, vectors, blocks);
    else
      launch(tag, std::integral_constant<int, 1>{}, vectors, blocks);
  });
  check_launch(what);
}

}  // namespace

at::Tensor swiglu_forward(const at::Tensor& gate, const at::Tensor& up) {
  const char* what = "swiglu (CUDA)";
  const c10::cuda::CUDAGuard guard(gate.device());
  expect_device(up, gate.device(), what, "up");
  const auto g = gate.contiguous(), u = up.contiguous();
  auto out = at::empty_like(g);
  if (g.numel() == 0) return out;
  dispatch({g, u, out}, what, [&](auto tag, auto vec, int64_t vectors, int64_t blocks) {
    using T = decltype(tag);
    swiglu_forward_kernel<T, decltype(vec)::value><<<blocks, kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(
        data<T>(g), data<T>(u), mutable_data<T>(out), vectors);
  });
  return out;
}

SwiGLUGradients swiglu_backward(const at::Tensor& grad, const at::Tensor& gate, const at::Tensor& up) {
  const char* what = "swiglu backward (CUDA)";
  const c10::cuda::CUDAGuard guard(gate.device());
  const auto d = grad.to(gate.scalar_type()).contiguous(), g = gate.contiguous(), u = up.contiguous();
  SwiGLUGradients grads{at::empty_like(g), at::empty_like(u)};
  if (g.numel() == 0) return grads;
  dispatch({d, g, u, grads.gate, grads.up}, what, [&](auto tag, auto vec, int64_t vectors, int64_t blocks) {
    using T = decltype(tag);
    swiglu_backward_kernel<T, decltype(vec)::value><<<blocks, kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(
        data<T>(d), data<T>(g), data<T>(u), mutable_data<T>(grads.gate), mutable_data<T>(grads.up), vectors);
  });
  return grads;
}

}  // namespace hybridize::kernels::cuda
