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
// Once a stage lands, the block converts its B and C rows to fp32 (each row
// serves up to kTile channels), and the loop over positions is one branch-free
// block of code, its exponentials split between the special-function unit
// and the FMA pipe: at the 15B shape both that unit and the issue slots are
// near their limits.
// For training it also saves the state entering every kScanCheckpointInterval
// positions (a whole number of stages: stages are powers of two) for the
// backward (kernels/cuda/selective_scan_bwd.cu).
#include <cuda_pipeline.h>

#include <type_traits>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/scan_inputs.cuh"

namespace hybridize::kernels::cuda {

namespace {

constexpr int kTile = 64;               // channels per block, one thread each
constexpr int kMaxSteps = 32;           // positions per shared-memory stage
constexpr int kBlockBytes = 54 * 1024;  // shared memory per block: four blocks fit one SM (228 KB, 1 KB reserved each)
// One state in kPolyEvery has its exponential computed on the FMA pipe (11
// instructions) rather than the special-function unit (16 results per clock
// and SM), which the exponentials, softplus and the gate would otherwise
// saturate while the issue slots (128 per clock and SM) have room. At the 15B
// shape a channel's position then takes 18 of that unit's results (1.13
// clocks) and ~140 instructions in the loop plus ~15 for the stage's copies
// (~1.2 clocks); one in 16 would give 1.19 and 1.12, a tie at this precision.
constexpr int kPolyEvery = 8;
static_assert(kScanCheckpointInterval % kMaxSteps == 0, "power-of-two stages tile the checkpoint interval");

struct ScanParams : ScanOperands {
  const float* init;
  void* y;
  float* final_state;
  float* checkpoints;  // [batch, checkpoint_count, channels, d_state], or null
  int checkpoint_stages, checkpoint_count;  // stages per checkpoint interval; intervals
  int steps;           // positions per stage
  int b_rows, c_rows;  // most B / C group rows one tile touches
  int plane, b_plane, c_plane, stage_elems;  // staged layout, in elements (multiples of 8)
  bool vectorized;
};

int round8(int n) { return (n + 7) / 8 * 8; }

int max_state(int64_t N) { return N <= 16 ? 16 : N <= 32 ? 32 : 64; }

// Copies `rows` rows of `row_elems` elements into shared memory: 16-byte
// asynchronous copies when every row start and length allows, else plain loads.
// The block's threads take the copies in turn; each steps its pointers, row
// and column rather than dividing a running index by the row length each time.
template <class T>
__device__ __forceinline__ void copy_rows(T* dst, int dst_stride, const T* src, int64_t src_stride, int rows,
                                          int row_elems, bool vectorized) {
  const auto walk = [&](auto unit_tag, auto copy) {
    constexpr int unit = decltype(unit_tag)::value;  // elements per copy
    const int chunks = row_elems / unit, dr = kTile / chunks, dc = (kTile - dr * chunks) * unit;
    int r = threadIdx.x / chunks, c = (threadIdx.x - r * chunks) * unit;
    T* d = dst + r * dst_stride + c;
    const T* s = src + r * src_stride + c;
    for (; r < rows; r += dr, d += dr * dst_stride + dc, s += dr * src_stride + dc) {
      copy(d, s);
      c += dc;
      if (c >= row_elems) c -= row_elems, ++r, d += dst_stride - row_elems, s += src_stride - row_elems;
    }
  };
  if (vectorized) walk(std::integral_constant<int, 16 / sizeof(T)>{}, [](T* d, const T* s) { __pipeline_memcpy_async(d, s, 16); });
  else walk(std::integral_constant<int, 1>{}, [](T* d, const T* s) { *d = *s; });
}

// Softplus and the gate are template arguments: a branch on either inside the
// loop over positions would cut it into blocks the compiler cannot interleave.
template <class T, int MAXN, bool kSoftplus, bool kGate>
__global__ void __launch_bounds__(kTile) scan_forward_kernel(const ScanParams p) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* smem = reinterpret_cast<T*>(smem_raw);
  // A stage's B rows, then its C rows, as fp32 rows of MAXN entries.
  float* rows = reinterpret_cast<float*>(smem + 2 * p.stage_elems);
  const int b = blockIdx.y, tid = threadIdx.x, d0 = blockIdx.x * kTile, d = d0 + tid;
  const int d_end = min(d0 + kTile, p.channels), tile = d_end - d0;
  const bool active = d < p.channels;
  const int N = p.d_state;
  const int b_lo = d0 / p.b_width, b_count = (d_end - 1) / p.b_width - b_lo + 1;
  const int c_lo = d0 / p.c_width, c_count = (d_end - 1) / p.c_width - c_lo + 1;
  const int z_off = 2 * p.plane, B_off = (kGate ? 3 : 2) * p.plane, C_off = B_off + p.b_plane;
  const int b_stage_rows = p.steps * p.b_rows, stage_rows = p.steps * (p.b_rows + p.c_rows);

  const T* x = static_cast<const T*>(p.x) + b * p.xs.batch + d0;
  const T* delta = static_cast<const T*>(p.delta) + b * p.ds.batch + d0;
  const T* z = kGate ? static_cast<const T*>(p.z) + b * p.zs.batch + d0 : nullptr;
  const T* Bg = static_cast<const T*>(p.B) + b * p.Bs.batch + int64_t(b_lo) * N;
  const T* Cg = static_cast<const T*>(p.C) + b * p.Cs.batch + int64_t(c_lo) * N;

  auto load_stage = [&](int chunk) {
    const int t0 = chunk * p.steps, n_rows = min(p.steps, p.length - t0);
    T* s = smem + (chunk & 1) * p.stage_elems;
    copy_rows(s, kTile, x + t0 * p.xs.length, p.xs.length, n_rows, tile, p.vectorized);
    copy_rows(s + p.plane, kTile, delta + t0 * p.ds.length, p.ds.length, n_rows, tile, p.vectorized);
    if (kGate) copy_rows(s + z_off, kTile, z + t0 * p.zs.length, p.zs.length, n_rows, tile, p.vectorized);
    copy_rows(s + B_off, p.b_rows * N, Bg + t0 * p.Bs.length, p.Bs.length, n_rows, b_count * N, p.vectorized);
    copy_rows(s + C_off, p.c_rows * N, Cg + t0 * p.Cs.length, p.Cs.length, n_rows, c_count * N, p.vectorized);
    __pipeline_commit();
  };

  // The block converts a stage's B and C rows to fp32 once, rather than each
  // of the (up to 64) channels sharing a row converting it per position;
  // channels then read them with 16-byte loads.
  auto convert_rows = [&](const T* s) {
    if (N == MAXN) {
      // The staged rows have the same layout, B's and C's back to back (no rounding up: N is a multiple of 16).
      constexpr int per = 16 / sizeof(T);
      const uint4* src = reinterpret_cast<const uint4*>(s + B_off);
      for (int i = tid; i < stage_rows * MAXN / per; i += kTile) {
        const uint4 raw = src[i];
        const T* v = reinterpret_cast<const T*>(&raw);
        float4* dst = reinterpret_cast<float4*>(rows + i * per);
#pragma unroll
        for (int j = 0; j < per / 4; ++j)
          dst[j] = make_float4(to_float(v[4 * j]), to_float(v[4 * j + 1]), to_float(v[4 * j + 2]), to_float(v[4 * j + 3]));
      }
    } else {
      for (int r = tid; r < stage_rows; r += kTile) {
        const T* src = r < b_stage_rows ? s + B_off + r * N : s + C_off + (r - b_stage_rows) * N;
#pragma unroll
        for (int n = 0; n < MAXN; ++n)
          if (n < N) rows[r * MAXN + n] = to_float(src[n]);
      }
    }
  };
  // Padding entries, written once: zero B and C keep the padding states zero.
  if (N < MAXN)
    for (int e = tid; e < stage_rows * MAXN; e += kTile)
      if (e % MAXN >= N) rows[e] = 0.f;

  // exp(delta * A) is computed as exp2(delta * A * log2 e).
  float A2[MAXN], h[MAXN];
#pragma unroll
  for (int n = 0; n < MAXN; ++n) {
    A2[n] = active && n < N ? p.A[int64_t(d) * N + n] * kLog2e : 0.f;
    h[n] = active && n < N && p.init ? p.init[(int64_t(b) * p.channels + d) * N + n] : 0.f;
  }
  const float skip = active ? p.D[d] : 0.f, bias = active && p.bias ? p.bias[d] : 0.f;
  const float* B_rows = rows + (active ? d / p.b_width - b_lo : 0) * MAXN;
  const float* C_rows = rows + (b_stage_rows + (active ? d / p.c_width - c_lo : 0)) * MAXN;
  const int b_stride = p.b_rows * MAXN, c_stride = p.c_rows * MAXN;  // between positions
  T* y = static_cast<T*>(p.y) + int64_t(b) * p.length * p.channels + d;

  const int chunks = (p.length + p.steps - 1) / p.steps;
  if (chunks > 0) load_stage(0);
  for (int k = 0; k < chunks; ++k) {
    __pipeline_wait_prior(0);
    // Stage k is visible to all, and all are done with stage k - 1: its
    // buffer can take stage k + 1, loading while this one is computed.
    __syncthreads();
    if (k + 1 < chunks) load_stage(k + 1);
    const T* s = smem + (k & 1) * p.stage_elems;
    convert_rows(s);
    if (p.checkpoints && active && k % p.checkpoint_stages == 0) {
      // h is the state entering position k * steps, the start of interval k / checkpoint_stages.
      float* saved = p.checkpoints + ((int64_t(b) * p.checkpoint_count + k / p.checkpoint_stages) * p.channels + d) * N;
#pragma unroll
      for (int n = 0; n < MAXN; ++n)
        if (n < N) saved[n] = h[n];
    }
    __syncthreads();
    const int n_rows = min(p.steps, p.length - k * p.steps);
    T* y_stage = y + int64_t(k) * p.steps * p.channels;
    // One position: advances h and returns y.
    auto advance = [&](int i) {
      const float xv = to_float(s[i * kTile + tid]);
      float dt = to_float(s[p.plane + i * kTile + tid]) + bias;
      if constexpr (kSoftplus) dt = softplus(dt);
      const float dtx = dt * xv;
      float Bv[MAXN], Cv[MAXN];
      const float4* Bq = reinterpret_cast<const float4*>(B_rows + i * b_stride);
      const float4* Cq = reinterpret_cast<const float4*>(C_rows + i * c_stride);
#pragma unroll
      for (int j = 0; j < MAXN / 4; ++j) {
        const float4 bv = Bq[j], cv = Cq[j];
        Bv[4 * j] = bv.x, Bv[4 * j + 1] = bv.y, Bv[4 * j + 2] = bv.z, Bv[4 * j + 3] = bv.w;
        Cv[4 * j] = cv.x, Cv[4 * j + 1] = cv.y, Cv[4 * j + 2] = cv.z, Cv[4 * j + 3] = cv.w;
      }
      // No n < N guard: padding states have A, B and C zero and stay zero, and a
      // guard would turn each state's update into a branch the compiler cannot overlap.
      float acc = 0.f;
#pragma unroll
      for (int n = 0; n < MAXN; ++n) {
        const float v = dt * A2[n];
        const float decay = n % kPolyEvery == kPolyEvery - 1 ? fma_exp2(v) : fast_exp2(v);
        h[n] = decay * h[n] + dtx * Bv[n];
        acc += Cv[n] * h[n];
      }
      float out = acc + skip * xv;
      if constexpr (kGate) out *= silu(to_float(s[z_off + i * kTile + tid]));
      return out;
    };
    if (active) {
      // Few warps run per SM, so a position's chain of latencies (shared loads,
      // softplus, exponentials, the C.h sum, the gate) would set the pace.
      // kUnroll positions at a time, their y stored after, let the compiler
      // overlap the chains; only h's one multiply-add per position is serial.
      constexpr int kUnroll = MAXN <= 16 ? 4 : MAXN <= 32 ? 2 : 1;
      int i = 0;
      for (; i + kUnroll <= n_rows; i += kUnroll) {
        float out[kUnroll];
#pragma unroll
        for (int u = 0; u < kUnroll; ++u) out[u] = advance(i + u);
#pragma unroll
        for (int u = 0; u < kUnroll; ++u) y_stage[int64_t(i + u) * p.channels] = from_float<T>(out[u]);
      }
      for (; i < n_rows; ++i) y_stage[int64_t(i) * p.channels] = from_float<T>(advance(i));
    }
  }
  if (active) {
#pragma unroll
    for (int n = 0; n < MAXN; ++n)
      if (n < N) p.final_state[(int64_t(b) * p.channels + d) * N + n] = h[n];
  }
}

template <class T, int MAXN>
void launch(const ScanParams& p, int64_t batch) {
  const auto kernel = p.softplus ? (p.z ? scan_forward_kernel<T, MAXN, true, true> : scan_forward_kernel<T, MAXN, true, false>)
                                 : (p.z ? scan_forward_kernel<T, MAXN, false, true> : scan_forward_kernel<T, MAXN, false, false>);
  const size_t bytes = size_t(2) * p.stage_elems * sizeof(T) + size_t(p.steps) * (p.b_rows + p.c_rows) * MAXN * sizeof(float);
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
  // Per position: two staged buffers and one of fp32 B and C rows.
  const int64_t step_bytes = 2 * ((z.defined() ? 3 : 2) * kTile + (p.b_rows + p.c_rows) * N) * elem +
                             (p.b_rows + p.c_rows) * max_state(N) * int64_t(sizeof(float));
  // A power of two, so that stages tile the checkpoint interval.
  p.steps = 1;
  while (p.steps * 2 <= std::min<int64_t>(kMaxSteps, kBlockBytes / step_bytes)) p.steps *= 2;
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
