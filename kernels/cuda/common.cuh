#pragma once
// Helpers shared by the .cu files: element and vector loads/stores converting to fp32,
// dtype dispatch, device checks and launch error checks.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "core/error.h"

namespace hybridize::kernels::cuda {

__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float to_float(__half v) { return __half2float(v); }

template <class T>
__device__ __forceinline__ float load(const T* p) {
  return to_float(__ldg(p));
}

template <class T>
__device__ __forceinline__ T from_float(float v);
template <>
__device__ __forceinline__ float from_float<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}
template <>
__device__ __forceinline__ __half from_float<__half>(float v) {
  return __float2half_rn(v);
}

// v rounded to T and back, as a reference's intermediate tensors in T round.
template <class T>
__device__ __forceinline__ float round_to(float v) {
  return to_float(from_float<T>(v));
}

// The kVec elements of type T that 16 bytes hold, as floats.
template <class T, int kVec>
__device__ __forceinline__ void unpack(const uint4& raw, float (&out)[kVec]) {
  static_assert(kVec * sizeof(T) == 16, "a vector is 16 bytes");
  const T* v = reinterpret_cast<const T*>(&raw);
#pragma unroll
  for (int e = 0; e < kVec; ++e) out[e] = to_float(v[e]);
}

// kVec elements of p as floats: one 16-byte load when kVec > 1 (p then 16-byte aligned).
template <class T, int kVec>
__device__ __forceinline__ void load_vector(const T* p, float (&out)[kVec]) {
  if constexpr (kVec == 1)
    out[0] = load(p);
  else
    unpack<T>(__ldg(reinterpret_cast<const uint4*>(p)), out);
}

template <class T, int kVec>
__device__ __forceinline__ void store_vector(T* p, const float (&in)[kVec]) {
  if constexpr (kVec == 1) {
    p[0] = from_float<T>(in[0]);
  } else {
    static_assert(kVec * sizeof(T) == 16, "a vector is 16 bytes");
    uint4 raw;
    T* v = reinterpret_cast<T*>(&raw);
#pragma unroll
    for (int e = 0; e < kVec; ++e) v[e] = from_float<T>(in[e]);
    *reinterpret_cast<uint4*>(p) = raw;
  }
}

// The scan kernels compute exp(delta * A) as exp2(delta * A * log2 e).
constexpr float kLog2e = 1.4426950408889634f;

// exp2 on the special-function unit alone. exp2f would add three instructions
// per state entry and position to keep results below 2^-126, which a decay
// that small does not need (flushed to zero here).
__device__ __forceinline__ float fast_exp2(float v) {
  float r;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(v));
  return r;
}

// softplus with torch's default threshold (20): above it, the identity. The
// fast intrinsics keep both off the scan's per-position critical path; their
// error (a few ulp) is far inside the fp32 tolerance. Their exponentials are
// fast_exp2, two instructions to __expf's five: it flushes results below
// 2^-126, where 1 + e is 1 all the same, so the values are __expf's.
// Both sides are computed and one selected, so that no branch splits a loop over positions.
__device__ __forceinline__ float softplus(float v) {
  const float smooth = __logf(1.f + fast_exp2(fminf(v, 20.f) * kLog2e));
  return v > 20.f ? v : smooth;
}
__device__ __forceinline__ float silu(float v) { return __fdividef(v, 1.f + fast_exp2(-v * kLog2e)); }
// The logistic function with the same fast intrinsics (an IEEE division would add its slow-path branch).
__device__ __forceinline__ float fast_sigmoid(float v) { return __fdividef(1.f, 1.f + fast_exp2(-v * kLog2e)); }

inline bool kernel_dtype(at::ScalarType t) { return t == at::kFloat || t == at::kBFloat16 || t == at::kHalf; }

// Calls body(T{}) with the CUDA element type of `dtype` (fp32, bf16 or fp16).
template <class Body>
void dispatch_dtype(at::ScalarType dtype, const char* what, Body&& body) {
  switch (dtype) {
    case at::kFloat:
      return body(float{});
    case at::kBFloat16:
      return body(__nv_bfloat16{});
    case at::kHalf:
      return body(__half{});
    default:
      fail(what, ": dtype ", c10::toString(dtype), " has no CUDA kernel");
  }
}

inline void expect_device(const at::Tensor& t, const at::Device& device, const char* what, const char* name) {
  if (t.device() != device) fail(what, ": tensor '", name, "' is on ", t.device().str(), ", expected ", device.str());
}

inline void check_launch(const char* what) {
  const cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess) fail(what, ": CUDA launch failed: ", cudaGetErrorString(status));
}

template <class T>
const T* data(const at::Tensor& t) {
  return reinterpret_cast<const T*>(t.data_ptr());
}
template <class T>
T* mutable_data(at::Tensor& t) {
  return reinterpret_cast<T*>(t.data_ptr());
}

inline bool data_aligned16(const at::Tensor& t) { return reinterpret_cast<uintptr_t>(t.data_ptr()) % 16 == 0; }

// Blocks of `threads` for a grid-stride loop over `items` (at least 1): one
// item a thread, up to 16 blocks an SM, past which each thread takes several.
inline int64_t grid_stride_blocks(int64_t items, int threads) {
  const int64_t sms = at::cuda::getCurrentDeviceProperties()->multiProcessorCount;
  return std::max<int64_t>(1, std::min<int64_t>((items + threads - 1) / threads, 16 * sms));
}

// Channels-last activations need unit stride along channels only; other strides are passed on.
inline at::Tensor unit_last_stride(const at::Tensor& t) { return t.stride(-1) == 1 ? t : t.contiguous(); }

}  // namespace hybridize::kernels::cuda
