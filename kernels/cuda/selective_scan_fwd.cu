// Forward selective scan (semantics: kernels/selective_scan.h).
//
// One thread per channel keeps that channel's d_state entries in registers and
// walks the sequence; a block holds kTile adjacent channels of one batch row.
// Channels-last inputs make a block's reads of one position one contiguous
// run, so the block stages `steps` positions of x, delta, z and the B and C
// group rows its channels use into shared memory with asynchronous copies,
// double-buffered: the next stage loads while this one is computed. Only a
// few threads run per SM at the 15B shape (batch * channels of them), so
// bytes in flight come from the staging, not from occupancy.
// For training it also saves the state entering every kScanCheckpointInterval
// positions (a whole number of stages: stages are powers of two) for the
// backward (kernels/cuda/selective_scan_bwd.cu).
#include <cuda_pipeline.h>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/scan_inputs.cuh"

namespace hybridize::kernels::cuda {

namespace {

constexpr int kTile = 64;                // channels per block, one thread each
constexpr int kMaxSteps = 32;            // positions per shared-memory stage
constexpr int kStageBytes = 24 * 1024;   // two stages: four blocks fit one SM
static_assert(kScanCheckpointInterval % kMaxSteps == 0, "power-of-two stages tile the checkpoint interval");

struct ScanParams : ScanOperands {
  const float* init;
  void* y;
  float* final_state;
  float* checkpoints;  // [batch, checkpoint_count, channels, d_state], or null
  int checkpoint_stages, checkpoint_count;  // stages per checkpoint interval; intervals
  int steps;           // positions per stage
  int b_rows, c_rows;  // most B / C group rows one tile touches
  int plane, b_plane, c_plane, stage_elems;  // stage layout, in elements (multiples of 8)
  bool vectorized;
};

int round8(int n) { return (n + 7) / 8 * 8; }

// Copies `rows` rows of `row_elems` elements into shared memory: 16-byte
// asynchronous copies when every row start and length allows, else plain loads.
template <class T>
__device__ __forceinline__ void copy_rows(T* dst, int dst_stride, const T* src, int64_t src_stride, int rows,
                                          int row_elems, bool vectorized) {
  if (vectorized) {
    constexpr int per = 16 / sizeof(T);
    const int chunks = row_elems / per;
    for (int i = threadIdx.x; i < rows * chunks; i += blockDim.x) {
      const int r = i / chunks, c = (i - r * chunks) * per;
      __pipeline_memcpy_async(dst + r * dst_stride + c, src + r * src_stride + c, 16);
    }
  } else {
    for (int i = threadIdx.x; i < rows * row_elems; i += blockDim.x) {
      const int r = i / row_elems, c = i - r * row_elems;
      dst[r * dst_stride + c] = src[r * src_stride + c];
    }
  }
}

// One channel's B or C row of a staged position as floats: 16-byte
// shared-memory loads when the row is whole (d_state == MAXN) and aligned,
// else element by element.
template <class T, int MAXN>
__device__ __forceinline__ void load_row(const T* row, float (&out)[MAXN], int N, bool whole) {
  if constexpr ((MAXN * sizeof(T)) % 16 == 0) {
    if (whole) {
      constexpr int per = 16 / sizeof(T);
#pragma unroll
      for (int j = 0; j < MAXN / per; ++j) {
        const uint4 raw = reinterpret_cast<const uint4*>(row)[j];
        const T* v = reinterpret_cast<const T*>(&raw);
#pragma unroll
        for (int e = 0; e < per; ++e) out[j * per + e] = to_float(v[e]);
      }
      return;
    }
  }
#pragma unroll
  for (int n = 0; n < MAXN; ++n) out[n] = n < N ? to_float(row[n]) : 0.f;
}

template <class T, int MAXN>
__global__ void __launch_bounds__(kTile) scan_forward_kernel(const ScanParams p) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* smem = reinterpret_cast<T*>(smem_raw);
  const int b = blockIdx.y, tid = threadIdx.x, d0 = blockIdx.x * kTile, d = d0 + tid;
  const int d_end = min(d0 + kTile, p.channels), tile = d_end - d0;
  const bool active = d < p.channels;
  const int N = p.d_state;
  const int b_lo = d0 / p.b_width, b_count = (d_end - 1) / p.b_width - b_lo + 1;
  const int c_lo = d0 / p.c_width, c_count = (d_end - 1) / p.c_width - c_lo + 1;
  const int z_off = 2 * p.plane, B_off = (p.z ? 3 : 2) * p.plane, C_off = B_off + p.b_plane;

  const T* x = static_cast<const T*>(p.x) + b * p.xs.batch + d0;
  const T* delta = static_cast<const T*>(p.delta) + b * p.ds.batch + d0;
  const T* z = p.z ? static_cast<const T*>(p.z) + b * p.zs.batch + d0 : nullptr;
  const T* Bg = static_cast<const T*>(p.B) + b * p.Bs.batch + int64_t(b_lo) * N;
  const T* Cg = static_cast<const T*>(p.C) + b * p.Cs.batch + int64_t(c_lo) * N;

  auto load_stage = [&](int chunk) {
    const int t0 = chunk * p.steps, rows = min(p.steps, p.length - t0);
    T* s = smem + (chunk & 1) * p.stage_elems;
    copy_rows(s, kTile, x + t0 * p.xs.length, p.xs.length, rows, tile, p.vectorized);
    copy_rows(s + p.plane, kTile, delta + t0 * p.ds.length, p.ds.length, rows, tile, p.vectorized);
    if (z) copy_rows(s + z_off, kTile, z + t0 * p.zs.length, p.zs.length, rows, tile, p.vectorized);
    copy_rows(s + B_off, p.b_rows * N, Bg + t0 * p.Bs.length, p.Bs.length, rows, b_count * N, p.vectorized);
    copy_rows(s + C_off, p.c_rows * N, Cg + t0 * p.Cs.length, p.Cs.length, rows, c_count * N, p.vectorized);
    __pipeline_commit();
  };

  // exp(delta * A) is computed as exp2(delta * A * log2 e).
  float A2[MAXN], h[MAXN];
#pragma unroll
  for (int n = 0; n < MAXN; ++n) {
    A2[n] = active && n < N ? p.A[int64_t(d) * N + n] * kLog2e : 0.f;
    h[n] = active && n < N && p.init ? p.init[(int64_t(b) * p.channels + d) * N + n] : 0.f;
  }
  const float skip = active ? p.D[d] : 0.f, bias = active && p.bias ? p.bias[d] : 0.f;
  const int b_row = active ? (d / p.b_width - b_lo) * N : 0, c_row = active ? (d / p.c_width - c_lo) * N : 0;
  const bool whole = p.vectorized && N == MAXN;  // staged rows then start on 16-byte boundaries
  T* y = static_cast<T*>(p.y) + int64_t(b) * p.length * p.channels + d;

  const int chunks = (p.length + p.steps - 1) / p.steps;
  if (chunks > 0) load_stage(0);
  for (int k = 0; k < chunks; ++k) {
    if (k + 1 < chunks) {
      load_stage(k + 1);
      __pipeline_wait_prior(1);
    } else {
      __pipeline_wait_prior(0);
    }
    __syncthreads();
    if (p.checkpoints && active && k % p.checkpoint_stages == 0) {
      // h is the state entering position k * steps, the start of interval k / checkpoint_stages.
      float* saved = p.checkpoints + ((int64_t(b) * p.checkpoint_count + k / p.checkpoint_stages) * p.channels + d) * N;
#pragma unroll
      for (int n = 0; n < MAXN; ++n)
        if (n < N) saved[n] = h[n];
    }
    const T* s = smem + (k & 1) * p.stage_elems;
    const int rows = min(p.steps, p.length - k * p.steps);
    T* y_stage = y + int64_t(k) * p.steps * p.channels;
    // One position: advances h and returns y.
    auto advance = [&](int i) {
      const float xv = to_float(s[i * kTile + tid]);
      float dt = to_float(s[p.plane + i * kTile + tid]) + bias;
      if (p.softplus) dt = softplus(dt);
      const float dtx = dt * xv;
      float Bv[MAXN], Cv[MAXN];
      load_row(s + B_off + i * p.b_rows * N + b_row, Bv, N, whole);
      load_row(s + C_off + i * p.c_rows * N + c_row, Cv, N, whole);
      // No n < N guard: padding states have A, B and C zero and stay zero, and a
      // guard would turn each state's update into a branch the compiler cannot overlap.
      float acc = 0.f;
#pragma unroll
      for (int n = 0; n < MAXN; ++n) {
        h[n] = fast_exp2(dt * A2[n]) * h[n] + dtx * Bv[n];
        acc += Cv[n] * h[n];
      }
      float out = acc + skip * xv;
      if (z) out *= silu(to_float(s[z_off + i * kTile + tid]));
      return out;
    };
    if (active) {
      // Few warps run per SM, so a position's chain of latencies (shared loads,
      // softplus, exponentials, the C.h sum, the gate) would set the pace.
      // kUnroll positions at a time, their y stored after, let the compiler
      // overlap the chains; only h's one multiply-add per position is serial.
      constexpr int kUnroll = MAXN <= 16 ? 4 : MAXN <= 32 ? 2 : 1;
      int i = 0;
      for (; i + kUnroll <= rows; i += kUnroll) {
        float out[kUnroll];
#pragma unroll
        for (int u = 0; u < kUnroll; ++u) out[u] = advance(i + u);
#pragma unroll
        for (int u = 0; u < kUnroll; ++u) y_stage[int64_t(i + u) * p.channels] = from_float<T>(out[u]);
      }
      for (; i < rows; ++i) y_stage[int64_t(i) * p.channels] = from_float<T>(advance(i));
    }
    __syncthreads();  // this stage is overwritten by the load issued next iteration
  }
  if (active) {
#pragma unroll
    for (int n = 0; n < MAXN; ++n)
      if (n < N) p.final_state[(int64_t(b) * p.channels + d) * N + n] = h[n];
  }
}

template <class T, int MAXN>
void launch(const ScanParams& p, int64_t batch) {
  const auto kernel = scan_forward_kernel<T, MAXN>;
  const size_t bytes = size_t(2) * p.stage_elems * sizeof(T);
  if (bytes > 48 * 1024) cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes));
  const dim3 grid((p.channels + kTile - 1) / kTile, unsigned(batch));
  kernel<<<grid, kTile, bytes, at::cuda::getCurrentCUDAStream()>>>(p);
  check_launch("selective scan forward");
}

bool aligned16(const at::Tensor& t, int64_t elem) {
  return reinterpret_cast<uintptr_t>(t.data_ptr()) % 16 == 0 && (t.stride(0) * elem) % 16 == 0 &&
         (t.stride(1) * elem) % 16 == 0;
}

}  // namespace

ScanOutputs selective_scan_forward(const ScanInputs& in, ScanCheckpoints* checkpoints) {
  const char* what = "selective scan (CUDA)";
  check_scan_inputs(in);
  const c10::cuda::CUDAGuard guard(in.x.device());
  const auto streamed = stream_scan_inputs(in, what);
  const auto& [dtype, x, delta, z, B, C, A, D, bias, init] = streamed;
  const int64_t batch = in.x.size(0), length = in.x.size(1), channels = in.x.size(2), N = in.A.size(1);

  auto y = at::empty({batch, length, channels}, x.options().dtype(dtype));
  auto final_state = at::empty({batch, channels, N}, x.options().dtype(at::kFloat));
  if (checkpoints) *checkpoints = {at::empty({batch, 0, channels, N}, final_state.options()), 1};
  if (batch == 0 || channels == 0) return {y.to(in.x.scalar_type()), final_state};
  if (length == 0) return {y.to(in.x.scalar_type()), init.defined() ? init.clone() : final_state.zero_()};

  ScanParams p{};
  static_cast<ScanOperands&>(p) = scan_operands(streamed, in.delta_softplus);
  p.init = data_or_null(init);
  p.y = y.data_ptr();
  p.final_state = final_state.data_ptr<float>();
  p.b_rows = int(std::min<int64_t>(B.size(2), (kTile - 1) / p.b_width + 2));
  p.c_rows = int(std::min<int64_t>(C.size(2), (kTile - 1) / p.c_width + 2));

  const int64_t elem = x.element_size();
  const int64_t step_bytes = ((z.defined() ? 3 : 2) * kTile + (p.b_rows + p.c_rows) * N) * elem;
  // A power of two, so that stages tile the checkpoint interval.
  p.steps = 1;
  while (p.steps * 2 <= std::min<int64_t>(kMaxSteps, kStageBytes / step_bytes)) p.steps *= 2;
  p.plane = round8(p.steps * kTile);
  p.b_plane = round8(p.steps * p.b_rows * int(N));
  p.c_plane = round8(p.steps * p.c_rows * int(N));
  p.stage_elems = (z.defined() ? 3 : 2) * p.plane + p.b_plane + p.c_plane;
  if (checkpoints) {
    p.checkpoint_stages = int(kScanCheckpointInterval / p.steps);
    p.checkpoint_count = int((length + kScanCheckpointInterval - 1) / kScanCheckpointInterval);
    *checkpoints = {at::empty({batch, p.checkpoint_count, channels, N}, final_state.options()), kScanCheckpointInterval};
    p.checkpoints = checkpoints->states.data_ptr<float>();
  }
  p.vectorized = aligned16(x, elem) && aligned16(delta, elem) && (!z.defined() || aligned16(z, elem)) &&
                 aligned16(B, elem) && aligned16(C, elem) && (channels * elem) % 16 == 0 && (N * elem) % 16 == 0;

  dispatch_dtype(dtype, what, [&](auto tag) {
    using T = decltype(tag);
    if (N <= 16) launch<T, 16>(p, batch);
    else if (N <= 32) launch<T, 32>(p, batch);
    else launch<T, 64>(p, batch);
  });
  return {y.to(in.x.scalar_type()), final_state};
}

}  // namespace hybridize::kernels::cuda
