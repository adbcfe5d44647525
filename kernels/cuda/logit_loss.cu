// Token losses and their gradients over chunks of logits rows (semantics:
// kernels/logit_loss_kernel.h) in two passes over each row, one block per row.
//
// The reference takes about fifteen passes over a [rows, vocab] fp32 tensor
// (the casts, log_softmax, exp, the differences and sums, the scaling, the
// cast back); at a 128K vocabulary those passes, not the logits' matmuls,
// were the loss's cost. Here the first pass reads the student's and the
// teacher's logits once and keeps running softmax statistics in base 2 (the
// maximum m, z = sum 2^(v - m) and, for KL, the probability-weighted sum of
// the log-ratio), merged across the block at the end; the second reads them
// again and writes the gradient in the logits' dtype.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_kernels.h"

namespace hybridize::kernels::cuda {

namespace {

constexpr int kThreads = 512;
constexpr int kWarps = kThreads / 32;
constexpr float kLn2 = 0.6931471805599453f;

// Softmax statistics of a set of values v in base 2: m = max v,
// z = sum 2^(v - m), w = sum 2^(v - m) d for some per-value d.
struct Stats {
  float m = -INFINITY, z = 0.f, w = 0.f;
};

// 2^(from - to) with to >= from, the factor that moves sums taken relative to
// `from` to `to`; 0 where nothing was summed yet (from = -inf).
__device__ __forceinline__ float rescale(float from, float to) {
  return from == -INFINITY ? 0.f : fast_exp2(from - to);
}

__device__ __forceinline__ void merge(Stats& a, const Stats& b) {
  const float m = fmaxf(a.m, b.m), ra = rescale(a.m, m), rb = rescale(b.m, m);
  a = {m, a.z * ra + b.z * rb, a.w * ra + b.w * rb};
}

// Merges the block's per-thread statistics; every thread gets the result.
__device__ __forceinline__ Stats block_merge(Stats s, Stats* shared) {
  for (int o = 16; o > 0; o /= 2) {
    const Stats other{__shfl_xor_sync(0xffffffffu, s.m, o), __shfl_xor_sync(0xffffffffu, s.z, o),
                      __shfl_xor_sync(0xffffffffu, s.w, o)};
    merge(s, other);
  }
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) shared[warp] = s;
  __syncthreads();
  Stats all = shared[0];
  for (int i = 1; i < kWarps; ++i) merge(all, shared[i]);
  __syncthreads();  // `shared` may be reused
  return all;
}

// Adds values v (and per-value d, for w) to running statistics s, one vector
// at a time: one rescale per vector instead of one per value.
template <int kVec>
__device__ __forceinline__ void accumulate(Stats& s, const float (&v)[kVec], const float (&d)[kVec], bool weighted) {
  float top = v[0];
#pragma unroll
  for (int e = 1; e < kVec; ++e) top = fmaxf(top, v[e]);
  const float m = fmaxf(s.m, top), r = rescale(s.m, m);
  float z = 0.f, w = 0.f;
#pragma unroll
  for (int e = 0; e < kVec; ++e) {
    const float p = fast_exp2(v[e] - m);
    z += p;
    if (weighted) w += p * d[e];
  }
  s = {m, s.z * r + z, s.w * r + w};
}

struct LossParams {
  const void *student, *teacher;
  const int64_t* targets;
  const float* grad_scale;  // null: no gradient
  float* losses;
  void* grad;
  int64_t vocab;
  float scale2;  // log2(e) / temperature: logits to base-2 exponents
  float inv_temperature;
};

template <class T, int kVec, LogitLoss kKind>
__global__ void __launch_bounds__(kThreads) logit_loss_kernel(const LossParams p) {
  __shared__ Stats shared[kWarps];
  constexpr bool kKL = kKind != LogitLoss::CrossEntropy;
  const int64_t row = blockIdx.x, offset = row * p.vocab;
  const T* student = static_cast<const T*>(p.student) + offset;
  const T* teacher = kKL ? static_cast<const T*>(p.teacher) + offset : nullptr;
  const int64_t vectors = p.vocab / kVec;

  // Pass 1. The KL's weights are the student's probabilities (reverse) or the
  // teacher's (forward); w sums them times the log-ratio, in base 2.
  Stats s, t;
  for (int64_t i = threadIdx.x; i < vectors; i += kThreads) {
    float sv[kVec], tv[kVec], d[kVec];
    load_vector<T, kVec>(student + i * kVec, sv);
#pragma unroll
    for (int e = 0; e < kVec; ++e) sv[e] *= p.scale2;
    if constexpr (kKL) {
      load_vector<T, kVec>(teacher + i * kVec, tv);
#pragma unroll
      for (int e = 0; e < kVec; ++e) {
        tv[e] *= p.scale2;
        d[e] = kKind == LogitLoss::ReverseKL ? sv[e] - tv[e] : tv[e] - sv[e];
      }
      accumulate(s, sv, d, kKind == LogitLoss::ReverseKL);
      accumulate(t, tv, d, kKind == LogitLoss::ForwardKL);
    } else {
      accumulate(s, sv, d, false);
    }
  }
  s = block_merge(s, shared);
  const float log_zs = s.m + log2f(s.z);  // log2 of the student's partition function over base-2 exponents
  float log_zt = 0.f, loss;
  if constexpr (kKL) {
    t = block_merge(t, shared);
    log_zt = t.m + log2f(t.z);
    // sum p (log p - log q) = E_p[s - t] - log Zs + log Zt (reverse); forward swaps the roles.
    loss = kKind == LogitLoss::ReverseKL ? kLn2 * (s.w / s.z - log_zs + log_zt) : kLn2 * (t.w / t.z - log_zt + log_zs);
  } else {
    // A target outside the vocabulary makes the loss NaN, which training reports as non-finite.
    const int64_t target = p.targets[row];
    loss = target >= 0 && target < p.vocab ? kLn2 * (log_zs - load(student + target) * p.scale2) : NAN;
  }
  if (threadIdx.x == 0) p.losses[row] = loss;
  if (!p.grad_scale) return;

  // Pass 2: the gradient with respect to the student's logits.
  const float scale = p.grad_scale[row] * p.inv_temperature;
  T* grad = static_cast<T*>(p.grad) + offset;
  const int64_t target = kKL ? -1 : p.targets[row];
  for (int64_t i = threadIdx.x; i < vectors; i += kThreads) {
    float sv[kVec], tv[kVec], g[kVec];
    load_vector<T, kVec>(student + i * kVec, sv);
    if constexpr (kKL) load_vector<T, kVec>(teacher + i * kVec, tv);
#pragma unroll
    for (int e = 0; e < kVec; ++e) {
      const float ls = sv[e] * p.scale2 - log_zs, prob = fast_exp2(ls);  // log2 p and p
      if constexpr (kKind == LogitLoss::ReverseKL) {
        const float lt = tv[e] * p.scale2 - log_zt;
        g[e] = prob * (kLn2 * (ls - lt) - loss) * scale;
      } else if constexpr (kKind == LogitLoss::ForwardKL) {
        g[e] = (prob - fast_exp2(tv[e] * p.scale2 - log_zt)) * scale;
      } else {
        g[e] = (prob - (i * kVec + e == target ? 1.f : 0.f)) * scale;
      }
    }
    store_vector<T, kVec>(grad + i * kVec, g);
  }
}

template <class T, int kVec>
void launch(LogitLoss kind, const LossParams& p, int64_t rows) {
  const auto stream = at::cuda::getCurrentCUDAStream();
  switch (kind) {
    case LogitLoss::ReverseKL:
      logit_loss_kernel<T, kVec, LogitLoss::ReverseKL><<<rows, kThreads, 0, stream>>>(p);
      break;
    case LogitLoss::ForwardKL:
      logit_loss_kernel<T, kVec, LogitLoss::ForwardKL><<<rows, kThreads, 0, stream>>>(p);
      break;
    case LogitLoss::CrossEntropy:
      logit_loss_kernel<T, kVec, LogitLoss::CrossEntropy><<<rows, kThreads, 0, stream>>>(p);
      break;
  }
}

}  // namespace

LogitLossOutputs logit_loss(const LogitLossInputs& in) {
  const char* what = "logit loss (CUDA)";
  check_logit_loss_inputs(in);
  const c10::cuda::CUDAGuard guard(in.student.device());
  const auto device = in.student.device();
  const bool kl = in.kind != LogitLoss::CrossEntropy;
  if (kl)
    expect_device(in.teacher, device, what, "teacher");
  else
    expect_device(in.targets, device, what, "targets");
  if (in.grad_scale.defined()) expect_device(in.grad_scale, device, what, "grad_scale");
  const auto student = in.student.contiguous();
  const auto teacher = kl ? in.teacher.contiguous() : at::Tensor();
  const auto targets = kl ? at::Tensor() : in.targets.contiguous();
  const auto grad_scale = in.grad_scale.defined() ? in.grad_scale.contiguous() : at::Tensor();
  const int64_t rows = student.size(0), vocab = student.size(1);
  if (rows > 0x7fffffff) fail(what, ": ", rows, " rows are more than one launch takes");

  LogitLossOutputs out;
  out.losses = at::empty({rows}, student.options().dtype(at::kFloat));
  if (grad_scale.defined()) out.grad = at::empty_like(student);
  if (rows == 0) return out;
  if (vocab == 0) fail(what, ": the vocabulary is empty");
  LossParams p{};
  p.student = student.data_ptr();
  p.teacher = kl ? teacher.data_ptr() : nullptr;
  p.targets = kl ? nullptr : targets.data_ptr<int64_t>();
  p.grad_scale = grad_scale.defined() ? grad_scale.data_ptr<float>() : nullptr;
  p.losses = out.losses.data_ptr<float>();
  p.grad = out.grad.defined() ? out.grad.data_ptr() : nullptr;
  p.vocab = vocab;
  p.scale2 = float(1.4426950408889634 / in.temperature);
  p.inv_temperature = float(1.0 / in.temperature);
  const int64_t per_vector = 16 / student.element_size();
  const bool vectorized = vocab % per_vector == 0 && data_aligned16(student) && (!kl || data_aligned16(teacher)) &&
                          (!out.grad.defined() || data_aligned16(out.grad));
  dispatch_dtype(student.scalar_type(), what, [&](auto tag) {
    using T = decltype(tag);
    if (vectorized)
      launch<T, 16 / sizeof(T)>(in.kind, p, rows);
    else
      launch<T, 1>(in.kind, p, rows);
  });
  check_launch(what);
  return out;
}

}  // namespace hybridize::kernels::cuda
