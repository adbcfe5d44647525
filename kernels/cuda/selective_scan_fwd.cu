// Forward selective scan (semantics: kernels/selective_scan.h).
//
// S threads share a channel, each keeping P of its d_state entries in
// registers (S * P >= d_state, both powers of two), and walk the sequence; a
// block of kThreads holds kThreads / S adjacent channels of one batch row.
// Splitting the state multiplies the threads over one per channel, which at
// the 1B training shape (batch * channels = 4096) left a warp per SM,
// latency-bound. The host takes the largest P (at most kMaxPart) whose grid
// still has kMinWarpsPerSM: larger P spreads each position's loads, partial
// sum and loop over more entries (15B shape: P = 8, S = 2; 1B: P = 1, S = 16).
// Channels-last inputs make a block's reads of one position one contiguous
// run, so the block stages `steps` positions of x, delta, z and the B and C
// group rows its channels use into shared memory with asynchronous copies,
// double-buffered: the next stage loads while this one is scanned.
// Per stage the block first computes, once per (position, channel) rather than
// once per thread of it, dt = softplus(delta + bias) and dt * x in fp32, and
// converts the B and C rows to fp32 (each row serves many channels). The scan
// then leaves each thread's part of C . h per position in shared memory; the
// block sums a channel's S parts, adds D * x, applies the gate and stores y
// (coalesced) while it prepares the next stage. Per state entry and position
// the loop is then one exponential on the special-function unit and four FMA-
// pipe instructions; the issue slots, not that unit, are the limit at the 15B
// shape, so no exponential is moved to the FMA pipe.
// For training it also saves the state entering every kScanCheckpointInterval
// positions (a whole number of stages: stages are powers of two) for the
// backward (kernels/cuda/selective_scan_bwd.cu); each thread saves its entries.
#include <ATen/cuda/CUDAContext.h>
#include <cuda_pipeline.h>

#include <algorithm>
#include <limits>
#include <type_traits>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/scan_inputs.cuh"

namespace hybridize::kernels::cuda {

namespace {

constexpr int kThreadsLog2 = 8;
constexpr int kThreads = 1 << kThreadsLog2;  // per block: kThreads / S channels
constexpr int kMaxSteps = 32;                // positions per shared-memory stage
// Two blocks of 128 registers a thread fill an SM's registers (16 warps), and
// two of this much shared memory its 228 KB (1 KB reserved each).
constexpr int kBlocksPerSM = 2;
constexpr int kBlockBytes = 110 * 1024;
constexpr int kMaxPart = 8;          // most state entries per thread
constexpr int kMaxSplit = 16;        // most threads per channel: d_state 64 needs P = 4
constexpr int kMinWarpsPerSM = 12;   // P is the largest whose grid has this many warps per SM
static_assert(kScanCheckpointInterval % kMaxSteps == 0, "power-of-two stages tile the checkpoint interval");
static_assert(kMaxPart * kMaxSplit >= kMaxScanState, "d_state fits the split");

struct ScanParams : ScanOperands {
  const float* init;
  void* y;
  float* final_state;
  float* checkpoints;  // [batch, checkpoint_count, channels, d_state], or null
  int checkpoint_stages, checkpoint_count;  // stages per checkpoint interval; intervals
  int split, split_shift, tile;  // S threads per channel (1 << split_shift); tile = kThreads / S channels per block
  int npad, npad_shift;          // S * P: entries per fp32 B / C row (padding zero)
  int part_pitch, part_stride;   // floats between the partial sums of two threads of a channel; of two positions
  int steps;                     // positions per stage
  int b_rows, c_rows;            // most B / C group rows one tile touches
  int plane, b_plane, c_plane, stage_elems;  // staged layout, in elements (multiples of 8)
  bool vectorized, dense_rows;   // 16-byte copies; B / C rows need no padding (N == npad, N % 8 == 0)
};

int round8(int n) { return (n + 7) / 8 * 8; }
// Floats of a stage's fp32 B and C rows, rounded so that the partial sums after them take 8-byte loads.
__host__ __device__ int row_floats(int stage_rows, int npad) { return (stage_rows * npad + 1) / 2 * 2; }
int log2_of(int n) {  // n a power of two
  int s = 0;
  while ((1 << s) < n) ++s;
  return s;
}

// P consecutive fp32 entries of a row, with the widest shared-memory loads
// their alignment (a multiple of P floats) allows.
template <int P>
__device__ __forceinline__ void load_entries(const float* src, float* out) {
  if constexpr (P == 1) {
    out[0] = *src;
  } else if constexpr (P == 2) {
    const float2 v = *reinterpret_cast<const float2*>(src);
    out[0] = v.x, out[1] = v.y;
  } else {
#pragma unroll
    for (int j = 0; j < P; j += 4) {
      const float4 v = *reinterpret_cast<const float4*>(src + j);
      out[j] = v.x, out[j + 1] = v.y, out[j + 2] = v.z, out[j + 3] = v.w;
    }
  }
}

// Two adjacent channels' elements, converted to and from fp32 in one access:
// the per-(position, channel) work takes channel pairs, which halves its
// loads, stores and loop overhead.
template <class T>
__device__ __forceinline__ float2 load_pair(const T* src) {
  if constexpr (std::is_same_v<T, float>) return *reinterpret_cast<const float2*>(src);
  else if constexpr (std::is_same_v<T, __half>) return __half22float2(*reinterpret_cast<const __half2*>(src));
  else return __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(src));
}
template <class T>
__device__ __forceinline__ void store_pair(T* dst, float a, float b) {
  if constexpr (std::is_same_v<T, float>) *reinterpret_cast<float2*>(dst) = make_float2(a, b);
  else if constexpr (std::is_same_v<T, __half>) *reinterpret_cast<__half2*>(dst) = __floats2half2_rn(a, b);
  else *reinterpret_cast<__nv_bfloat162*>(dst) = __floats2bfloat162_rn(a, b);
}

// A thread's share of copying `rows` rows of `row_elems` elements, in units
// of `unit` elements taken by the block's threads in turn: its first row and
// column, and the rows and columns it steps between copies. The same each
// stage, so that the divisions are done once.
struct Walk {
  int r, c, dr, dc;
};
__device__ __forceinline__ Walk walk_of(int row_elems, int unit) {
  const int chunks = row_elems / unit, dr = kThreads / chunks, r = threadIdx.x / chunks;
  return {r, int(threadIdx.x - r * chunks) * unit, dr, (kThreads - dr * chunks) * unit};
}
// Offsets within a stage fit 32 bits (the host sizes stages so), which
// spares each copy 64-bit address arithmetic.
template <bool kVector, class T>
__device__ __forceinline__ void copy_rows(const Walk& w, T* dst, int dst_stride, const T* src, int src_stride,
                                          int rows, int row_elems) {
  for (int r = w.r, c = w.c; r < rows;) {
    const int from = r * src_stride + c, to = r * dst_stride + c;
    if constexpr (kVector) __pipeline_memcpy_async(dst + to, src + from, 16);
    else dst[to] = src[from];
    r += w.dr, c += w.dc;
    if (c >= row_elems) c -= row_elems, ++r;
  }
}

// Softplus and the gate are template arguments: a branch on either inside the
// loop over positions would cut it into blocks the compiler cannot interleave.
template <class T, int P, bool kSoftplus, bool kGate>
__global__ void __launch_bounds__(kThreads, kBlocksPerSM) scan_forward_kernel(const ScanParams p) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  // Two staged buffers of raw inputs, then fp32: dt and dt * x per (position,
  // channel), the B and C rows, and the partial sums of C . h.
  T* smem = reinterpret_cast<T*>(smem_raw);
  float2* dtdx = reinterpret_cast<float2*>(smem + 2 * p.stage_elems);
  float* rows = reinterpret_cast<float*>(dtdx + p.steps * p.tile);
  const int b_stage_rows = p.steps * p.b_rows, stage_rows = p.steps * (p.b_rows + p.c_rows);
  float* parts = rows + row_floats(stage_rows, p.npad);

  const int N = p.d_state, S = p.split, tile_w = p.tile;
  const int b = blockIdx.y, tid = threadIdx.x, d0 = blockIdx.x * tile_w;
  const int d_end = min(d0 + tile_w, p.channels), tile = d_end - d0;
  const int b_lo = d0 / p.b_width, b_count = (d_end - 1) / p.b_width - b_lo + 1;
  const int c_lo = d0 / p.c_width, c_count = (d_end - 1) / p.c_width - c_lo + 1;
  const int z_off = 2 * p.plane, B_off = (kGate ? 3 : 2) * p.plane, C_off = B_off + p.b_plane;

  const T* x = static_cast<const T*>(p.x) + b * p.xs.batch + d0;
  const T* delta = static_cast<const T*>(p.delta) + b * p.ds.batch + d0;
  const T* z = kGate ? static_cast<const T*>(p.z) + b * p.zs.batch + d0 : nullptr;
  const T* Bg = static_cast<const T*>(p.B) + b * p.Bs.batch + int64_t(b_lo) * N;
  const T* Cg = static_cast<const T*>(p.C) + b * p.Cs.batch + int64_t(c_lo) * N;

  const int chunks = (p.length + p.steps - 1) / p.steps;
  const auto stage_len = [&](int chunk) { return min(p.steps, p.length - chunk * p.steps); };
  // x, delta and z rows share one walk.
  const int unit = p.vectorized ? 16 / sizeof(T) : 1;
  const Walk w_run = walk_of(tile, unit), w_B = walk_of(b_count * N, unit), w_C = walk_of(c_count * N, unit);
  auto load_stage = [&](int chunk) {
    const int t0 = chunk * p.steps, n_rows = stage_len(chunk);
    T* s = smem + (chunk & 1) * p.stage_elems;
    const auto copy = [&](auto vector_tag) {
      constexpr bool kVector = decltype(vector_tag)::value;
      copy_rows<kVector>(w_run, s, tile_w, x + t0 * p.xs.length, int(p.xs.length), n_rows, tile);
      copy_rows<kVector>(w_run, s + p.plane, tile_w, delta + t0 * p.ds.length, int(p.ds.length), n_rows, tile);
      if (kGate) copy_rows<kVector>(w_run, s + z_off, tile_w, z + t0 * p.zs.length, int(p.zs.length), n_rows, tile);
      copy_rows<kVector>(w_B, s + B_off, p.b_rows * N, Bg + t0 * p.Bs.length, int(p.Bs.length), n_rows, b_count * N);
      copy_rows<kVector>(w_C, s + C_off, p.c_rows * N, Cg + t0 * p.Cs.length, int(p.Cs.length), n_rows, c_count * N);
    };
    if (p.vectorized) copy(std::true_type{});
    else copy(std::false_type{});
    __pipeline_commit();
  };

  // Per-(position, channel) work is shared out by channel pairs, fastest
  // along channels: this thread always takes channels ce and ce + 1 of the
  // tile and positions pe0, pe0 + 2S, ..., which lie 2 * kThreads elements
  // apart (2S * tile_w). A pair is whole or past the tile where channels is
  // even; the second channel of a pair past it is computed from unloaded
  // values and not stored.
  const int ce = 2 * (tid & (tile_w / 2 - 1)), pe0 = tid >> (kThreadsLog2 - 1 - p.split_shift);
  const bool ce_active = ce < tile;
  float2 bias_e = make_float2(0.f, 0.f), skip_e = bias_e;
  if (ce_active) {
    const bool second = ce + 1 < tile;
    skip_e = make_float2(p.D[d0 + ce], second ? p.D[d0 + ce + 1] : 0.f);
    if (p.bias) bias_e = make_float2(p.bias[d0 + ce], second ? p.bias[d0 + ce + 1] : 0.f);
  }

  // The block converts a stage's B and C rows to fp32 once, rather than each
  // of the channels sharing a row converting it per position; threads then
  // read their P entries with one vector load. Padding entries are zero, which
  // keeps the padding states zero.
  auto convert_rows = [&](const T* s) {
    if (p.dense_rows) {
      // The staged rows have the same layout, B's and C's back to back (no rounding up: N is a multiple of 8).
      constexpr int per = 16 / sizeof(T);
      const uint4* src = reinterpret_cast<const uint4*>(s + B_off);
      for (int i = tid; i < stage_rows * N / per; i += kThreads) {
        const uint4 raw = src[i];
        const T* v = reinterpret_cast<const T*>(&raw);
        float4* dst = reinterpret_cast<float4*>(rows + i * per);
#pragma unroll
        for (int j = 0; j < per / 4; ++j)
          dst[j] = make_float4(to_float(v[4 * j]), to_float(v[4 * j + 1]), to_float(v[4 * j + 2]), to_float(v[4 * j + 3]));
      }
    } else {
      for (int e = tid; e < stage_rows * p.npad; e += kThreads) {
        const int r = e >> p.npad_shift, n = e & (p.npad - 1);
        const T* src = r < b_stage_rows ? s + B_off + r * N : s + C_off + (r - b_stage_rows) * N;
        rows[e] = n < N ? to_float(src[n]) : 0.f;
      }
    }
  };
  // dt and dt * x, once per (position, channel): softplus's two special-function
  // results are not repeated by the S threads of the channel.
  auto prepare = [&](const T* s, int n_rows) {
    convert_rows(s);
    if (!ce_active) return;
    const T* xs = s + pe0 * tile_w + ce;
    float4* out = reinterpret_cast<float4*>(dtdx + pe0 * tile_w + ce);
    for (int i = pe0; i < n_rows; i += 2 * S, xs += 2 * kThreads, out += kThreads) {
      const float2 xv = load_pair(xs), dv = load_pair(xs + p.plane);
      float dt0 = dv.x + bias_e.x, dt1 = dv.y + bias_e.y;
      if constexpr (kSoftplus) dt0 = softplus(dt0), dt1 = softplus(dt1);
      *out = make_float4(dt0, dt0 * xv.x, dt1, dt1 * xv.y);
    }
  };
  // y of a stage: the S partial sums, D * x and the gate, stored coalesced.
  // A stage's start is block-uniform; offsets within it fit 32 bits (steps * channels).
  T* const y = static_cast<T*>(p.y) + int64_t(b) * p.length * p.channels + d0;
  const int y_first = pe0 * p.channels + ce;
  const int part_step = 2 * S * p.part_stride, y_step = 2 * S * p.channels;  // between a thread's positions
  const bool pair_store = p.channels % 2 == 0;  // else the pair may straddle the tile's end, and y's alignment
  auto finish = [&](int chunk) {
    if (!ce_active) return;
    const T* xs = smem + (chunk & 1) * p.stage_elems + pe0 * tile_w + ce;
    const float* part = parts + pe0 * p.part_stride + ce;
    int64_t start = int64_t(chunk) * p.steps * p.channels;
    // Opaque to the compiler, which would otherwise redo this 64-bit product
    // in every trip of the loop to save two registers.
    asm("" : "+l"(start));
    T* out = y + start;
    const int n_rows = stage_len(chunk);
    for (int i = pe0, o = y_first; i < n_rows; i += 2 * S, xs += 2 * kThreads, part += part_step, o += y_step) {
      float2 acc = make_float2(0.f, 0.f);
      const auto add = [&](int j) {
        const float2 v = *reinterpret_cast<const float2*>(part + j * p.part_pitch);
        acc.x += v.x, acc.y += v.y;
      };
      // S is a power of two: four parts per trip where it has them.
      if (S >= 4) {
#pragma unroll 1
        for (int j = 0; j < S; j += 4) add(j), add(j + 1), add(j + 2), add(j + 3);
      } else {
        add(0);
        if (S == 2) add(1);
      }
      const float2 xv = load_pair(xs);
      acc.x += skip_e.x * xv.x, acc.y += skip_e.y * xv.y;
      if constexpr (kGate) {
        const float2 zv = load_pair(xs + z_off);
        acc.x *= silu(zv.x), acc.y *= silu(zv.y);
      }
      if (pair_store) {
        store_pair(out + o, acc.x, acc.y);
      } else {
        out[o] = from_float<T>(acc.x);
        if (ce + 1 < tile) out[o + 1] = from_float<T>(acc.y);
      }
    }
  };

  // This thread's channel and entries: n = sub * P + j.
  const int ch = tid >> p.split_shift, sub = tid & (S - 1), d = d0 + ch, n0 = sub * P;
  const bool active = d < p.channels;
  // exp(delta * A) is computed as exp2(delta * A * log2 e).
  float A2[P], h[P];
#pragma unroll
  for (int j = 0; j < P; ++j) {
    const bool real = active && n0 + j < N;
    A2[j] = real ? p.A[int64_t(d) * N + n0 + j] * kLog2e : 0.f;
    h[j] = real && p.init ? p.init[(int64_t(b) * p.channels + d) * N + n0 + j] : 0.f;
  }
  const float* B_rows = rows + (active ? d / p.b_width - b_lo : 0) * p.npad + n0;
  const float* C_rows = rows + (b_stage_rows + (active ? d / p.c_width - c_lo : 0)) * p.npad + n0;
  const int b_stride = p.b_rows * p.npad, c_stride = p.c_rows * p.npad;  // between positions
  const float2* my_dtdx = dtdx + ch;
  float* my_part = parts + sub * p.part_pitch + ch;
  const int part_stride = p.part_stride;

  // One position (dt and dt * x, B and C): advances h and returns this
  // thread's part of C . h.
  auto advance = [&](float2 dd, const float* Bq, const float* Cq) {
    float Bv[P], Cv[P];
    load_entries<P>(Bq, Bv);
    load_entries<P>(Cq, Cv);
    // No n < N guard: padding states have A, B and C zero and stay zero, and a
    // guard would turn each state's update into a branch the compiler cannot overlap.
    float acc = 0.f;
#pragma unroll
    for (int j = 0; j < P; ++j) {
      const float v = dd.x * A2[j];
      h[j] = fast_exp2(v) * h[j] + dd.y * Bv[j];
      acc += Cv[j] * h[j];
    }
    return acc;
  };
  auto scan = [&](int n_rows) {
    // Few warps may run per SM, so a position's chain of latencies (shared
    // loads, the exponentials, the C . h sum) would set the pace. kUnroll
    // positions at a time, their sums stored after, let the compiler overlap
    // the chains; only h's one multiply-add per position is serial. The
    // pointers step once per group: within it, offsets are block-uniform.
    constexpr int kUnroll = P >= 8 ? 2 : 8 / P;
    const float2* dd = my_dtdx;
    const float *Bq = B_rows, *Cq = C_rows;
    float* out = my_part;
    const auto step = [&](int n) { dd += n * tile_w, Bq += n * b_stride, Cq += n * c_stride, out += n * part_stride; };
    int i = 0;
    for (; i + kUnroll <= n_rows; i += kUnroll, step(kUnroll)) {
      float acc[kUnroll];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) acc[u] = advance(dd[u * tile_w], Bq + u * b_stride, Cq + u * c_stride);
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) out[u * part_stride] = acc[u];
    }
    for (; i < n_rows; ++i, step(1)) out[0] = advance(dd[0], Bq, Cq);
  };

  if (chunks > 0) load_stage(0);
  for (int k = 0; k < chunks; ++k) {
    __pipeline_wait_prior(0);
    // Stage k is visible to all, and all are done scanning stage k - 1: its
    // partial sums are complete and the fp32 buffers are free.
    __syncthreads();
    prepare(smem + (k & 1) * p.stage_elems, stage_len(k));
    if (k > 0) finish(k - 1);
    // All are done with stage k - 1's buffer (finish read its x and z): it can
    // take stage k + 1, loading while this one is scanned.
    __syncthreads();
    if (k + 1 < chunks) load_stage(k + 1);
    if (active) {
      if (p.checkpoints && k % p.checkpoint_stages == 0) {
        // h is the state entering position k * steps, the start of interval k / checkpoint_stages.
        float* saved = p.checkpoints + ((int64_t(b) * p.checkpoint_count + k / p.checkpoint_stages) * p.channels + d) * N + n0;
#pragma unroll
        for (int j = 0; j < P; ++j)
          if (n0 + j < N) saved[j] = h[j];
      }
      scan(stage_len(k));
    }
  }
  __syncthreads();
  if (chunks > 0) finish(chunks - 1);
  if (active) {
#pragma unroll
    for (int j = 0; j < P; ++j)
      if (n0 + j < N) p.final_state[(int64_t(b) * p.channels + d) * N + n0 + j] = h[j];
  }
}

template <class T, int P>
void launch(const ScanParams& p, int64_t batch) {
  const auto kernel = p.softplus ? (p.z ? scan_forward_kernel<T, P, true, true> : scan_forward_kernel<T, P, true, false>)
                                 : (p.z ? scan_forward_kernel<T, P, false, true> : scan_forward_kernel<T, P, false, false>);
  const size_t bytes = size_t(2) * p.stage_elems * sizeof(T) +
                       (size_t(p.steps) * (2 * p.tile + p.part_stride) +
                        row_floats(p.steps * (p.b_rows + p.c_rows), p.npad)) * sizeof(float);
  if (bytes > 48 * 1024) cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes));
  const dim3 grid((p.channels + p.tile - 1) / p.tile, unsigned(batch));
  kernel<<<grid, kThreads, bytes, at::cuda::getCurrentCUDAStream()>>>(p);
  check_launch("selective scan forward");
}

int64_t pow2_ceil(int64_t n) {
  int64_t v = 1;
  while (v < n) v *= 2;
  return v;
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

  // P: at least d_state / kMaxSplit; doubled while the grid keeps kMinWarpsPerSM.
  const auto split_for = [&](int64_t part) { return pow2_ceil((N + part - 1) / part); };
  int part = int(pow2_ceil((N + kMaxSplit - 1) / kMaxSplit));
  const int64_t min_threads = int64_t(at::cuda::getCurrentDeviceProperties()->multiProcessorCount) * kMinWarpsPerSM * 32;
  while (part < kMaxPart && split_for(part) > 1 && batch * channels * split_for(2 * part) >= min_threads) part *= 2;
  p.split = int(split_for(part));
  p.split_shift = log2_of(p.split);
  p.tile = kThreads / p.split;
  p.npad = p.split * part;
  p.npad_shift = log2_of(p.npad);
  // Writes of one position's partial sums by a warp (32 / S channels, S each)
  // then fall in distinct banks.
  p.part_pitch = p.tile + ((32 / std::min(p.split, 32) - p.tile) & 31);
  // Where a tile is narrower than the banks, a warp's reads of the sums
  // (pairs of channels) span several positions; consecutive positions then
  // start tile banks apart.
  p.part_stride = p.split * p.part_pitch;
  if (p.tile < 32) p.part_stride += (p.tile - p.part_stride) & 31;
  p.b_rows = int(std::min<int64_t>(B.size(2), (p.tile - 1) / p.b_width + 2));
  p.c_rows = int(std::min<int64_t>(C.size(2), (p.tile - 1) / p.c_width + 2));

  const int64_t elem = x.element_size(), gr = p.b_rows + p.c_rows;
  // Per position: two staged buffers, dt and dt * x, fp32 B and C rows, partial sums.
  const int64_t step_bytes = 2 * ((z.defined() ? 3 : 2) * p.tile + gr * N) * elem +
                             (2 * p.tile + gr * p.npad + p.part_stride) * int64_t(sizeof(float));
  // A power of two, so that stages tile the checkpoint interval, and no
  // longer than the sequence needs; a stage's input offsets (rows times
  // position strides) must fit 32 bits.
  int64_t max_stride = std::max({x.stride(1), delta.stride(1), B.stride(1), C.stride(1)});
  if (z.defined()) max_stride = std::max(max_stride, z.stride(1));
  const int64_t max_row = std::max<int64_t>(p.tile, gr * N);
  p.steps = 1;
  while (p.steps < length && p.steps * 2 <= std::min<int64_t>(kMaxSteps, kBlockBytes / step_bytes) &&
         (p.steps * 2 - 1) * max_stride + max_row < std::numeric_limits<int32_t>::max())
    p.steps *= 2;
  p.plane = round8(p.steps * p.tile);
  p.b_plane = round8(p.steps * p.b_rows * int(N));
  p.c_plane = round8(p.steps * p.c_rows * int(N));
  p.stage_elems = (z.defined() ? 3 : 2) * p.plane + p.b_plane + p.c_plane;
  p.dense_rows = N == p.npad && N % 8 == 0;
  if (checkpoints) {
    p.checkpoint_stages = int(kScanCheckpointInterval / p.steps);
    p.checkpoint_count = int((length + kScanCheckpointInterval - 1) / kScanCheckpointInterval);
    *checkpoints = {at::empty({batch, p.checkpoint_count, channels, N}, final_state.options()), kScanCheckpointInterval};
    p.checkpoints = checkpoints->states.data_ptr<float>();
  }
  p.vectorized = rows_aligned16(x) && rows_aligned16(delta) && (!z.defined() || rows_aligned16(z)) &&
                 rows_aligned16(B) && rows_aligned16(C) && (channels * elem) % 16 == 0 && (N * elem) % 16 == 0;

  dispatch_dtype(dtype, what, [&](auto tag) {
    using T = decltype(tag);
    if (part == 1) launch<T, 1>(p, batch);
    else if (part == 2) launch<T, 2>(p, batch);
    else if (part == 4) launch<T, 4>(p, batch);
    else launch<T, 8>(p, batch);
  });
  return {y.to(in.x.scalar_type()), final_state};
}

}  // namespace hybridize::kernels::cuda
