// Forward selective scan (semantics: kernels/selective_scan_kernel.h).
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
// pipe instructions. At the 15B shape the issue slots and that unit bound the
// kernel about equally (bench/RESULTS.md, session 7), so no exponential is
// moved to the FMA pipe: a polynomial there costs more issue slots than the
// unit's time it frees.
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
constexpr int kMaxPart = 8;         // most state entries per thread
constexpr int kMaxSplit = 16;       // most threads per channel: d_state 64 needs P = 4
constexpr int kMinWarpsPerSM = 12;  // P is the largest whose grid has this many warps per SM
static_assert(kScanCheckpointInterval % kMaxSteps == 0, "power-of-two stages tile the checkpoint interval");
static_assert(kMaxPart * kMaxSplit >= kMaxScanState, "d_state fits the split");

struct ScanParams : ScanOperands {
  const float* init;
  void* y;
  float* final_state;
  float* checkpoints;                     // [batch, checkpoint_count, channels, d_state], or null
  int checkpoint_mask, checkpoint_shift;  // stages per checkpoint interval (a power of two) less one; its log2
  int checkpoint_count;                   // intervals
  int split, split_shift, tile;  // S threads per channel (1 << split_shift); tile = kThreads / S channels per block
  int npad, npad_shift;          // S * P: entries per fp32 B / C row (padding zero)
  int part_pitch, part_stride;   // floats between the partial sums of two threads of a channel; of two positions
  int steps;                     // positions per stage
  // Elements from one stage's rows of each input, and of y, to the next's: steps times the position stride.
  int64_t x_stage, delta_stage, z_stage, B_stage, C_stage, y_stage;
  int b_rows, c_rows;                        // most B / C group rows one tile touches
  int plane, b_plane, c_plane, stage_elems;  // staged layout, in elements (multiples of 8)
  bool vectorized, dense_rows;               // 16-byte copies; B / C rows need no padding (N == npad, N % 8 == 0)
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
  if constexpr (std::is_same_v<T, float>) {
    return *reinterpret_cast<const float2*>(src);
  } else if constexpr (std::is_same_v<T, __half>) {
    return __half22float2(*reinterpret_cast<const __half2*>(src));
  } else {
    // A bf16 is the upper half of an fp32: a shift and a mask widen the pair
    // exactly, one instruction each (the intrinsic takes two for the upper one).
    const unsigned bits = *reinterpret_cast<const unsigned*>(src);
    return make_float2(__uint_as_float(bits << 16), __uint_as_float(bits & 0xffff0000u));
  }
}
// A store to global memory through a pointer the kernel read from shared
// memory, where the compiler cannot see its space (it would store generically).
template <class V>
__device__ __forceinline__ void store_global(void* ptr, V value) {
  static_assert(sizeof(V) == 2 || sizeof(V) == 4 || sizeof(V) == 8, "a 2-, 4- or 8-byte store");
  const size_t address = __cvta_generic_to_global(ptr);
  if constexpr (sizeof(V) == 2)
    asm volatile("st.global.b16 [%0], %1;" ::"l"(address), "h"(reinterpret_cast<unsigned short&>(value)));
  else if constexpr (sizeof(V) == 4)
    asm volatile("st.global.b32 [%0], %1;" ::"l"(address), "r"(reinterpret_cast<unsigned&>(value)));
  else
    asm volatile("st.global.b64 [%0], %1;" ::"l"(address), "l"(reinterpret_cast<unsigned long long&>(value)));
}
template <class T>
__device__ __forceinline__ void store_pair(T* dst, float a, float b) {
  if constexpr (std::is_same_v<T, float>)
    store_global(dst, make_float2(a, b));
  else if constexpr (std::is_same_v<T, __half>)
    store_global(dst, __floats2half2_rn(a, b));
  else
    store_global(dst, __floats2bfloat162_rn(a, b));
}

// A thread's share of copying a stage's rows of one input, `row_elems`
// elements each, in units of 2^unit_log2 elements: the row is taken as
// 2^lanes_log2 units (rounded up to a power of two, units past its end
// skipped), dealt out to the block's threads in turn along the rows. Powers of
// two keep the walk to shifts and masks, and a thread to one column of units
// where a row has no more of them than the block has threads.
struct Walk {
  int r, c;    // first row and column (elements)
  int dr, dc;  // rows between a thread's rows; elements between its columns in a row
};
__device__ __forceinline__ Walk walk_of(int row_elems, int unit_log2) {
  const int units = (row_elems - 1) >> unit_log2, lanes_log2 = min(32 - __clz(units), kThreadsLog2);
  const int lane = threadIdx.x & ((1 << lanes_log2) - 1);
  return {int(threadIdx.x >> lanes_log2), lane << unit_log2, 1 << (kThreadsLog2 - lanes_log2),
          1 << (lanes_log2 + unit_log2)};
}
// copy(r, c) for each of the thread's units in the first `rows` rows.
template <class Copy>
__device__ __forceinline__ void walk_units(const Walk& w, int rows, int row_elems, Copy&& copy) {
  for (int r = w.r; r < rows; r += w.dr)
    for (int c = w.c; c < row_elems; c += w.dc) copy(r, c);
}
// One unit: 16 bytes, asynchronously, or one element (through the read-only
// data cache: the inputs are not written while the kernel runs, and __ldg
// names the global space the compiler cannot see in the table's pointers).
template <bool kVector, class T>
__device__ __forceinline__ void copy_unit(T* dst, const T* src) {
  if constexpr (kVector)
    __pipeline_memcpy_async(dst, src, 16);
  else
    *dst = __ldg(src);
}
// 16 bytes asynchronously to shared memory at base + offset, unless offset
// is negative: predicated rather than branched around, so that a stage's
// copies issue back to back. cp.async takes a global-space source address.
__device__ __forceinline__ void copy16_unless_negative(unsigned base, int offset, const void* src) {
  asm volatile(
      "{\n .reg .pred p;\n .reg .u32 a;\n setp.ge.s32 p, %1, 0;\n add.u32 a, %0, %1;\n"
      " @p cp.async.cg.shared.global [a], [%2], 16;\n}" ::"r"(base),
      "r"(offset), "l"(__cvta_generic_to_global(src))
      : "memory");
}

// Where the block's rows of each input start at a stage's first position,
// and y's at the stage before's (see the kernel's `starts`).
template <class T>
struct alignas(16) StageStarts {
  const T *x, *delta, *z, *B, *C;
  T* y;
};
constexpr int kStartsBytes = 2 * sizeof(StageStarts<float>);  // for stages of either parity

// Softplus and the gate are template arguments: a branch on either inside the
// loop over positions would cut it into blocks the compiler cannot interleave.
template <class T, int P, bool kSoftplus, bool kGate>
__global__ void __launch_bounds__(kThreads, kBlocksPerSM) scan_forward_kernel(const ScanParams p) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  // Stage starts (below), two staged buffers of raw inputs, then fp32: dt and
  // dt * x per (position, channel), the B and C rows, and the partial sums of
  // C . h.
  StageStarts<T>* const starts = reinterpret_cast<StageStarts<T>*>(smem_raw);
  T* smem = reinterpret_cast<T*>(smem_raw + kStartsBytes);
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

  const int chunks = (p.length + p.steps - 1) / p.steps;
  const int last_len = p.length - (chunks - 1) * p.steps;  // the last stage may be partial
  const auto stage_len = [&](int chunk) { return chunk + 1 < chunks ? p.steps : last_len; };
  // starts[c & 1] holds where stage c's inputs and stage c - 1's y start: the
  // block loads stage c a stage before scanning it and finishes stage c - 1 a
  // stage after, so that one slot serves both in the same iteration. Each
  // thread reads them there once a stage, rather than holding 64-bit pointers
  // in registers through the scan or recomputing them with 64-bit products;
  // thread 0 moves a slot on two stages once the barrier after its last reads
  // is passed.
  const auto next_stage = [&](const StageStarts<T>& at) {
    return StageStarts<T>{at.x + p.x_stage, at.delta + p.delta_stage, kGate ? at.z + p.z_stage : nullptr,
                          at.B + p.B_stage, at.C + p.C_stage,         at.y + p.y_stage};
  };
  if (tid == 0) {
    T* const y = static_cast<T*>(p.y) + int64_t(b) * p.length * p.channels + d0;
    const StageStarts<T> first{static_cast<const T*>(p.x) + b * p.xs.batch + d0,
                               static_cast<const T*>(p.delta) + b * p.ds.batch + d0,
                               kGate ? static_cast<const T*>(p.z) + b * p.zs.batch + d0 : nullptr,
                               static_cast<const T*>(p.B) + b * p.Bs.batch + int64_t(b_lo) * N,
                               static_cast<const T*>(p.C) + b * p.Cs.batch + int64_t(c_lo) * N,
                               y};
    starts[0] = first;  // its y is not read
    starts[1] = next_stage(first);
    starts[1].y = y;
  }
  __syncthreads();
  // A unit of the x, delta and z walk copies all three. Offsets within a
  // stage fit 32 bits (the host sizes stages so), which spares each copy
  // 64-bit address arithmetic.
  const int x_stride = int(p.xs.length), delta_stride = int(p.ds.length), z_stride = int(p.zs.length);
  const int B_stride = int(p.Bs.length), C_stride = int(p.Cs.length);
  const int B_pitch = p.b_rows * N, C_pitch = p.c_rows * N;               // staged B and C rows
  const int unit_log2 = p.vectorized ? 4 - (sizeof(T) == 4 ? 2 : 1) : 0;  // 16 bytes, or one element
  const int B_elems = b_count * N, C_elems = c_count * N;
  const Walk w_run = walk_of(tile, unit_log2), w_B = walk_of(B_elems, unit_log2), w_C = walk_of(C_elems, unit_log2);
  // Where copies are 16 bytes, a stage has no more rows than a walk's rows
  // apart and a thread one column (the 15B shape), each thread copies at most
  // the first unit of each walk in a stage, from and to the same offsets every
  // full stage: in the inputs' rows (elements), and in the stage (bytes, with
  // the input's plane; -1 where the thread has no unit). Those stages copy
  // so, predicated rather than walked; a partial last one walks.
  const bool one_unit = p.vectorized && p.steps <= min(w_run.dr, min(w_B.dr, w_C.dr)) &&
                        max(tile - w_run.dc, max(B_elems - w_B.dc, C_elems - w_C.dc)) <= 0;
  const int straight_stages = !one_unit ? 0 : last_len == p.steps ? chunks : chunks - 1;
  const auto to_of = [&](const Walk& w, int row_elems, int plane_off, int pitch) {
    return w.c < row_elems && w.r < p.steps ? int(sizeof(T)) * (plane_off + w.r * pitch + w.c) : -1;
  };
  const auto from_of = [](const Walk& w, int stride) { return unsigned(w.r) * unsigned(stride) + w.c; };
  int run_to = to_of(w_run, tile, 0, tile_w), B_to = to_of(w_B, B_elems, B_off, B_pitch);
  int C_to = to_of(w_C, C_elems, C_off, C_pitch);
  unsigned x_from = from_of(w_run, x_stride), delta_from = from_of(w_run, delta_stride);
  unsigned z_from = from_of(w_run, z_stride), B_from = from_of(w_B, B_stride), C_from = from_of(w_C, C_stride);
  // Opaque to the compiler, which would otherwise recompute them every stage.
  asm("" : "+r"(run_to), "+r"(B_to), "+r"(C_to));
  asm("" : "+r"(x_from), "+r"(delta_from), "+r"(z_from), "+r"(B_from), "+r"(C_from));
  auto load_stage = [&](int chunk) {
    const int n_rows = stage_len(chunk);
    T* s = smem + (chunk & 1) * p.stage_elems;
    const StageStarts<T>& at = starts[chunk & 1];
    const T *x_t = at.x, *delta_t = at.delta, *z_t = at.z, *B_t = at.B, *C_t = at.C;
    if (chunk < straight_stages) {
      const unsigned s_addr = unsigned(__cvta_generic_to_shared(s));
      copy16_unless_negative(s_addr, run_to, x_t + x_from);
      copy16_unless_negative(s_addr + sizeof(T) * p.plane, run_to, delta_t + delta_from);
      if constexpr (kGate) copy16_unless_negative(s_addr + sizeof(T) * z_off, run_to, z_t + z_from);
      copy16_unless_negative(s_addr, B_to, B_t + B_from);
      copy16_unless_negative(s_addr, C_to, C_t + C_from);
    } else {
      const auto walk = [&](auto vector_tag) {
        constexpr bool kVector = decltype(vector_tag)::value;
        walk_units(w_run, n_rows, tile, [&](int r, int c) {
          const int to = r * tile_w + c;
          copy_unit<kVector>(s + to, x_t + (r * x_stride + c));
          copy_unit<kVector>(s + p.plane + to, delta_t + (r * delta_stride + c));
          if constexpr (kGate) copy_unit<kVector>(s + z_off + to, z_t + (r * z_stride + c));
        });
        walk_units(w_B, n_rows, B_elems,
                   [&](int r, int c) { copy_unit<kVector>(s + B_off + r * B_pitch + c, B_t + (r * B_stride + c)); });
        walk_units(w_C, n_rows, C_elems,
                   [&](int r, int c) { copy_unit<kVector>(s + C_off + r * C_pitch + c, C_t + (r * C_stride + c)); });
      };
      if (p.vectorized)
        walk(std::true_type{});
      else
        walk(std::false_type{});
    }
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
  // Where the thread's first pair lies in a stage's rows, partial sums and y's rows.
  int pair_first = pe0 * tile_w + ce, part_first = pe0 * p.part_stride + ce, y_first = pe0 * p.channels + ce;
  // Opaque to the compiler, which would otherwise recompute them every stage.
  asm("" : "+r"(pair_first), "+r"(part_first), "+r"(y_first));
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
      const uint4* const src_end = src + stage_rows * N / per;
      float4* dst = reinterpret_cast<float4*>(rows) + tid * (per / 4);
      // Most threads convert one or two pieces a stage: unrolling would only add a remainder loop.
#pragma unroll 1
      for (src += tid; src < src_end; src += kThreads, dst += kThreads * (per / 4)) {
        const uint4 raw = *src;
        const T* v = reinterpret_cast<const T*>(&raw);
#pragma unroll
        for (int j = 0; j < per / 4; ++j) {
          const float2 lo = load_pair(v + 4 * j), hi = load_pair(v + 4 * j + 2);
          dst[j] = make_float4(lo.x, lo.y, hi.x, hi.y);
        }
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
  // results are not repeated by the S threads of the channel. A thread's
  // positions lie below the stage's end (n_rows * tile_w) exactly while its
  // pointer does, which spares a position counter.
  auto prepare = [&](const T* s, int n_rows) {
    convert_rows(s);
    if (!ce_active) return;
    const T* xs = s + pair_first;
    const T* const xs_end = s + n_rows * tile_w;
    float4* out = reinterpret_cast<float4*>(dtdx + pair_first);
    for (; xs < xs_end; xs += 2 * kThreads, out += kThreads) {
      const float2 xv = load_pair(xs), dv = load_pair(xs + p.plane);
      float dt0 = dv.x + bias_e.x, dt1 = dv.y + bias_e.y;
      if constexpr (kSoftplus) dt0 = softplus(dt0), dt1 = softplus(dt1);
      *out = make_float4(dt0, dt0 * xv.x, dt1, dt1 * xv.y);
    }
  };
  // y of a stage: the S partial sums, D * x and the gate, stored coalesced.
  const int part_pitch = p.part_pitch;
  const int part_step = 2 * S * p.part_stride, y_step = 2 * S * p.channels;  // between a thread's positions
  const bool pair_store = p.channels % 2 == 0;  // else the pair may straddle the tile's end, and y's alignment
  auto finish = [&](int chunk) {
    if (!ce_active) return;
    T* const y_t = starts[~chunk & 1].y;
    const T* const s = smem + (chunk & 1) * p.stage_elems;
    const T* xs = s + pair_first;
    const T* const xs_end = s + stage_len(chunk) * tile_w;
    const float* part = parts + part_first;
    T* out = y_t + y_first;
    // Each trip of the sum over the S parts (a power of two) adds kTrip of
    // them: S where S < 4 (one trip), else four. A loop over positions for
    // each choice of kTrip and of pair stores keeps the choices out of it.
    const auto store_rows = [&](auto trip_tag, auto pair_tag) {
      constexpr int kTrip = decltype(trip_tag)::value;
      const int trips = kTrip < 4 ? 1 : S / 4;
      for (; xs < xs_end; xs += 2 * kThreads, part += part_step, out += y_step) {
        float2 acc = make_float2(0.f, 0.f);
        const float* q = part;
#pragma unroll 1
        for (int t = 0; t < trips; ++t)
#pragma unroll
          for (int j = 0; j < kTrip; ++j, q += part_pitch) {
            const float2 v = *reinterpret_cast<const float2*>(q);
            acc.x += v.x, acc.y += v.y;
          }
        const float2 xv = load_pair(xs);
        acc.x += skip_e.x * xv.x, acc.y += skip_e.y * xv.y;
        if constexpr (kGate) {
          const float2 zv = load_pair(xs + z_off);
          acc.x *= silu(zv.x), acc.y *= silu(zv.y);
        }
        if constexpr (decltype(pair_tag)::value) {
          store_pair(out, acc.x, acc.y);
        } else {
          store_global(out, from_float<T>(acc.x));
          if (ce + 1 < tile) store_global(out + 1, from_float<T>(acc.y));
        }
      }
    };
    const auto with_trip = [&](auto trip_tag) {
      if (pair_store)
        store_rows(trip_tag, std::true_type{});
      else
        store_rows(trip_tag, std::false_type{});
    };
    if (S == 1)
      with_trip(std::integral_constant<int, 1>{});
    else if (S == 2)
      with_trip(std::integral_constant<int, 2>{});
    else
      with_trip(std::integral_constant<int, 4>{});
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
    // take stage k + 1, loading while this one is scanned. And with the starts
    // of stage k's inputs and stage k - 1's y: their slot can take stage k + 2's
    // and stage k + 1's.
    __syncthreads();
    if (tid == 0) starts[k & 1] = next_stage(starts[~k & 1]);
    if (k + 1 < chunks) load_stage(k + 1);
    if (active) {
      if (p.checkpoints && (k & p.checkpoint_mask) == 0) {
        // h is the state entering position k * steps, the start of the interval.
        const int interval = k >> p.checkpoint_shift;
        float* saved = p.checkpoints + ((int64_t(b) * p.checkpoint_count + interval) * p.channels + d) * N + n0;
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
  const auto kernel = p.softplus
                          ? (p.z ? scan_forward_kernel<T, P, true, true> : scan_forward_kernel<T, P, true, false>)
                          : (p.z ? scan_forward_kernel<T, P, false, true> : scan_forward_kernel<T, P, false, false>);
  const size_t bytes =
      kStartsBytes + size_t(2) * p.stage_elems * sizeof(T) +
      (size_t(p.steps) * (2 * p.tile + p.part_stride) + row_floats(p.steps * (p.b_rows + p.c_rows), p.npad)) *
          sizeof(float);
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
  const int64_t min_threads =
      int64_t(at::cuda::getCurrentDeviceProperties()->multiProcessorCount) * kMinWarpsPerSM * 32;
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
  p.x_stage = p.steps * p.xs.length, p.delta_stage = p.steps * p.ds.length, p.z_stage = p.steps * p.zs.length;
  p.B_stage = p.steps * p.Bs.length, p.C_stage = p.steps * p.Cs.length, p.y_stage = p.steps * channels;
  p.plane = round8(p.steps * p.tile);
  p.b_plane = round8(p.steps * p.b_rows * int(N));
  p.c_plane = round8(p.steps * p.c_rows * int(N));
  p.stage_elems = (z.defined() ? 3 : 2) * p.plane + p.b_plane + p.c_plane;
  p.dense_rows = N == p.npad && N % 8 == 0;
  if (checkpoints) {
    p.checkpoint_mask = int(kScanCheckpointInterval / p.steps) - 1;
    p.checkpoint_shift = log2_of(p.checkpoint_mask + 1);
    p.checkpoint_count = int((length + kScanCheckpointInterval - 1) / kScanCheckpointInterval);
    *checkpoints = {at::empty({batch, p.checkpoint_count, channels, N}, final_state.options()),
                    kScanCheckpointInterval};
    p.checkpoints = checkpoints->states.data_ptr<float>();
  }
  p.vectorized = rows_aligned16(x) && rows_aligned16(delta) && (!z.defined() || rows_aligned16(z)) &&
                 rows_aligned16(B) && rows_aligned16(C) && (channels * elem) % 16 == 0 && (N * elem) % 16 == 0;

  dispatch_dtype(dtype, what, [&](auto tag) {
    using T = decltype(tag);
    if (part == 1)
      launch<T, 1>(p, batch);
    else if (part == 2)
      launch<T, 2>(p, batch);
    else if (part == 4)
      launch<T, 4>(p, batch);
    else
      launch<T, 8>(p, batch);
  });
  return {y.to(in.x.scalar_type()), final_state};
}

}  // namespace hybridize::kernels::cuda
