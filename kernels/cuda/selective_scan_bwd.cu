// Backward of the selective scan (semantics: kernels/selective_scan_kernel.h), split
// over time as kernels/cuda/scan_chunks.cuh describes.
//
// With h_t = a_t h_{t-1} + u_t, a_t = exp(dt_t A) and u_t = dt_t x_t B_t, the
// gradient g_t of the loss with respect to h_t runs backwards:
// g_t = C_t dy_t + k_{t+1} with k_t = a_t g_t, seeded by the final state's
// gradient. A block walks its chunks from the last, carrying k from one chunk
// to the one before in shared memory. Per chunk and state entry, each warp
// composes its segment both ways (the states forward, k backward), and after
// the block's barrier starts from the exact state entering its segment (the
// chunk's saved start composed with the segments before) and the exact k
// leaving it (the carry composed with the segments after). It then recomputes
// its states and runs the reverse recurrence over them, one exponential per
// position and state entry in all (and one per segment and entry for the
// composite's decay, from the segment's summed steps). B and C come from the rows the block
// stages for the chunk, where they fit (kernels/cuda/scan_chunks.cuh).
//
// Reductions: dA sums over a thread's positions in shared memory, then over
// warps and batch rows (one fp32 atomic per block and entry); dD and
// delta_bias over a thread's positions, then by one fp32 atomic per thread.
// dB and dC sum over the channels of a group across the
// warp's lanes: where a group's lanes are an aligned power-of-two run (widths
// 1, 2, 4, .. 32 or multiples of 32), a reduce-scatter spreads the positions'
// sums over the run's lanes; other widths take a segmented sum. Where one run
// holds all of a group's channels, each sum is the whole value and is stored
// in the inputs' dtype; otherwise (groups wider than a warp, or straddling
// warps) the parts meet by fp32 atomics. The mixer's layout (B groups of 64
// channels by atomics, C groups of 16 stored) is fixed at compile time, so
// that its reduce-scatters have no run-time loops or branches; other widths
// read theirs from the params.
#include <cuda_pipeline.h>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/scan_chunks.cuh"
#include "kernels/cuda/scan_inputs.cuh"

namespace hybridize::kernels::cuda {

namespace {

struct BackwardParams : ScanOperands {
  const void* grad_y;
  Strides gs;
  const float *checkpoints, *grad_final;
  void *dx, *ddelta, *dz;   // [batch, length, channels], the streamed element type
  void *dB, *dC;            // [batch, length, groups, d_state]: see GroupSum::atomic
  float *dA, *dD, *dbias;   // zeroed; dbias null without delta_bias
  float* dinit;             // [batch, channels, d_state], or null without initial_state
  int b_span, c_span;       // lanes per aligned run of one B / C group (scatter_span), or 0
  bool b_atomic, c_atomic;  // dB / dC: zeroed fp32 summed by atomics, else the streamed type, stored
  int b_rows, c_rows;       // group rows staged per tile (tile_rows)
  bool vector_rows;         // x, delta, grad_y and z rows copy in 16-byte pieces (prefetch_chunk)
  bool vector_group_rows;   // B and C rows stage in 16-byte pieces (stage_rows)
};

// 16-bit inputs prefetch each chunk's rows of x, delta, grad_y and z for the
// block's channels into shared memory, [kChunkInputs][position][lane], while
// the chunk before is computed: read from global memory where they are used,
// at the head and tail of every chunk, they held a third of the backward's
// stall cycles at the 15B shape. Double-buffered fp32 rows would leave too
// little shared memory for two blocks per SM, so fp32 reads global memory.
constexpr int kChunkInputs = 4;                                                    // x, delta, grad_y, z
constexpr int kChunkElems = kChunkInputs * int(kScanCheckpointInterval) * kLanes;  // one buffer

template <class T>
constexpr bool kPrefetches = sizeof(T) == 2;

// Copies the rows of x, delta, grad_y and z at positions c0 .. c0 + interval - 1
// for the block's channels into dst; positions past the end, channels past the
// last and an absent z are zeros. Each thread copies one 16-byte piece of each
// input's rows: with vector_rows asynchronously (committed by the caller),
// else element by element.
template <class T>
__device__ __forceinline__ void prefetch_chunk(T* dst, const BackwardParams& p, int b, int c0) {
  constexpr int kPer = 16 / int(sizeof(T)), kPieces = kLanes / kPer;  // 16-byte pieces per row
  static_assert(kPieces * int(kScanCheckpointInterval) == kScanThreads, "a piece of each input a thread");
  const int i = threadIdx.x / kPieces, c = (threadIdx.x % kPieces) * kPer, d = blockIdx.x * kLanes + c;
  const bool inside = c0 + i < p.length && d < p.channels;
  const auto piece = [&](int input, const void* base, const Strides& s) {
    T* to = dst + (input * int(kScanCheckpointInterval) + i) * kLanes + c;
    if (base && inside) {
      const T* from = static_cast<const T*>(base) + b * s.batch + (c0 + i) * s.length + d;
      if (p.vector_rows) {
        __pipeline_memcpy_async(to, from, 16);
      } else {
#pragma unroll
        for (int k = 0; k < kPer; ++k) to[k] = d + k < p.channels ? from[k] : from_float<T>(0.f);
      }
    } else {
      *reinterpret_cast<uint4*>(to) = make_uint4(0, 0, 0, 0);
    }
  };
  piece(0, p.x, p.xs);
  piece(1, p.delta, p.ds);
  piece(2, p.grad_y, p.gs);
  piece(3, p.z, p.zs);
}

// Bit k is set when lane + 2^k holds a channel of this lane's group (groups of
// `width` adjacent channels), i.e. when the segmented sum may add across 2^k.
__device__ __forceinline__ unsigned segment_steps(int lane, int d, int width) {
  unsigned steps = 0;
  for (int k = 0; (1 << k) < kLanes; ++k) {
    const int o = 1 << k;
    if (lane + o < kLanes && (d + o) / width == d / width) steps |= 1u << k;
  }
  return steps;
}

// For each entry of v, the sum over the lanes of this lane's group from this
// lane on (lanes of one group are adjacent), so a group's first lane gets the
// group's sum. After the step across 2^k a lane holds the sum over its group's
// lanes in [lane, lane + 2^(k+1)). The entries' shuffles interleave, so their
// latencies overlap.
template <int K>
__device__ __forceinline__ void segment_sums(float (&v)[K], unsigned steps) {
#pragma unroll
  for (int k = 0; (1 << k) < kLanes; ++k) {
    const bool add = steps & (1u << k);
#pragma unroll
    for (int i = 0; i < K; ++i) {
      const float other = __shfl_down_sync(0xffffffffu, v[i], 1 << k);
      if (add) v[i] += other;
    }
  }
}

// Sums each entry of v over an aligned run of `span` lanes (a power of two)
// and spreads the sums over the run: each halving step pairs the lanes that
// differ in one bit, each keeps the half of its entries that bit selects and
// adds the partner's copy of that half. Afterwards this lane holds the sums of
// entries first .. first + count - 1 in v[0 .. count - 1]; where the run is
// wider than K, lanes past the first K of the run hold copies (owner false).
// K - 1 shuffles for a run of K lanes, against the segmented sum's K log2(32).
template <int K>
__device__ __forceinline__ void reduce_scatter(float (&v)[K], int span, int lane, int& first, int& count, bool& owner) {
  static_assert((K & (K - 1)) == 0, "K must be a power of two");
  first = 0;
#pragma unroll
  for (int s = 0; (1 << s) < kLanes; ++s) {
    const int o = 1 << s;
    if (o >= span) break;
    const bool upper = lane & o;
    const int half = (K >> s) / 2;
    if (half > 0) {
#pragma unroll
      for (int i = 0; i < K / 2; ++i) {
        if (i < half) {
          const float send = upper ? v[i] : v[i + half], keep = upper ? v[i + half] : v[i];
          v[i] = keep + __shfl_xor_sync(0xffffffffu, send, o);
        }
      }
      if (upper) first += half;
    } else {
      v[0] += __shfl_xor_sync(0xffffffffu, v[0], o);
    }
  }
  count = span < K ? K / span : 1;
  owner = (lane & (span - 1)) < K;
}

// How one lane's values reach its group's row of dB or dC. kSpan and kAtomic
// fix the layout at compile time for the shapes that matter, so that the
// reduce-scatter's loops and branches fold away; kAnySpan reads it from the
// params (span and atomic below).
constexpr int kAnySpan = -1;

template <int kSpan, bool kAtomic = false>
struct GroupSum {
  int span;        // lanes per aligned power-of-two run of the group, or 0: the segmented sum
  unsigned steps;  // the segmented sum's steps (segment_steps)
  bool head;       // this lane is the group's first in its warp (the segmented sum's result)
  bool atomic;     // fp32 atomics into a zeroed row, else a store in T

  __device__ __forceinline__ int run() const { return kSpan == kAnySpan ? span : kSpan; }
  __device__ __forceinline__ bool atomics() const { return kSpan == kAnySpan ? atomic : kAtomic; }
};

template <class T>
__device__ __forceinline__ void put(void* out, int64_t index, float v, bool atomic) {
  if (atomic)
    atomicAdd(static_cast<float*>(out) + index, v);
  else
    static_cast<T*>(out)[index] = from_float<T>(v);
}

// Sums v, one value per position t0 + i of this lane's group, over the group's
// channels into out[index + i * stride] (positions from `valid` on are past the end).
template <class T, int K, int kSpan, bool kAtomic>
__device__ __forceinline__ void add_group_sums(float (&v)[K], const GroupSum<kSpan, kAtomic>& g, bool active, int lane,
                                               void* out, int64_t index, int64_t stride, int valid) {
  const int span = g.run();
  if (span) {
    int first, count;
    bool owner;
    reduce_scatter(v, span, lane, first, count, owner);
    if (!active || !owner) return;
    if (span >= K) {  // one sum per lane
      if (first < valid) put<T>(out, index + first * stride, v[0], g.atomics());
      return;
    }
#pragma unroll
    for (int i = 0; i < K; ++i)
      if (i < count && first + i < valid) put<T>(out, index + (first + i) * stride, v[i], g.atomics());
  } else {
    segment_sums(v, g.steps);
    if (g.head) {
#pragma unroll
      for (int i = 0; i < K; ++i)
        if (i < valid) put<T>(out, index + i * stride, v[i], g.atomics());
    }
  }
}

// Lanes per aligned run that one group of `width` channels makes in a warp
// (warps start at multiples of 32 channels, groups at multiples of width), or
// 0 where the runs are not aligned powers of two.
int scatter_span(int width) {
  if (width % kLanes == 0) return kLanes;
  return (width & (width - 1)) == 0 ? width : 0;  // a power of two below 32 divides it
}

// v, but unknown to the compiler, so that nothing computed from it is shared with earlier code.
__device__ __forceinline__ int opaque(int v) {
  asm volatile("" : "+r"(v));
  return v;
}

// BSum and CSum: the GroupSum layouts of dB and dC.
template <class T, bool kStaged, class BSum, class CSum>
__global__ void __launch_bounds__(kScanThreads, 2) scan_backward_kernel(const BackwardParams p) {
  __shared__ SegmentParts parts;
  extern __shared__ __align__(16) float smem[];
  constexpr bool kPrefetch = kPrefetches<T>;
  const int N = p.d_state, L = p.length;
  T* chunk_rows = reinterpret_cast<T*>(smem);  // kPrefetch: [2][kChunkElems], by chunk parity
  float* carry = smem + (kPrefetch ? 2 * kChunkElems * int(sizeof(T)) / 4
                                   : 0);                  // [2][N][kLanes]: k at a chunk's end, by chunk parity
  float* dA_sums = carry + 2 * N * kLanes;                // [kSegments][N][kLanes]: each thread's dA over its positions
  float* A_lanes = dA_sums + kSegments * N * kLanes;      // [N][kLanes]: A of each lane's channel
  float* staged_B = A_lanes + N * kLanes;                 // [b_rows][N][kRowPitch], when staged
  float* staged_C = staged_B + p.b_rows * N * kRowPitch;  // [c_rows][N][kRowPitch]
  const int lane = threadIdx.x % kLanes, w = threadIdx.x / kLanes, b = blockIdx.y;
  const int d = blockIdx.x * kLanes + lane;
  // Every lane runs every loop (the group sums need the whole warp); lanes past
  // the last channel read the last channel, compute with zeros and write nothing.
  const bool active = d < p.channels;
  const int d_read = active ? d : p.channels - 1;
  const T* x = static_cast<const T*>(p.x) + b * p.xs.batch + d_read;
  const T* delta = static_cast<const T*>(p.delta) + b * p.ds.batch + d_read;
  const T* z = p.z ? static_cast<const T*>(p.z) + b * p.zs.batch + d_read : nullptr;
  const T* grad_y = static_cast<const T*>(p.grad_y) + b * p.gs.batch + d_read;
  const int b_group = d_read / p.b_width, c_group = d_read / p.c_width;
  const T* B = static_cast<const T*>(p.B) + b * p.Bs.batch;  // this batch row's B and C
  const T* C = static_cast<const T*>(p.C) + b * p.Cs.batch;
  const TileRows b_tile = tile_rows_of(p.b_width, p.channels, d_read),
                 c_tile = tile_rows_of(p.c_width, p.channels, d_read);
  const BSum b_sum{p.b_span, segment_steps(lane, d, p.b_width), active && (lane == 0 || (d - 1) / p.b_width != b_group),
                   p.b_atomic};
  const CSum c_sum{p.c_span, segment_steps(lane, d, p.c_width), active && (lane == 0 || (d - 1) / p.c_width != c_group),
                   p.c_atomic};
  const int64_t state_row = (int64_t(b) * p.channels + d) * N;  // [b, d, 0] of a state
  const float skip = active ? p.D[d] : 0.f, bias = active && p.bias ? p.bias[d] : 0.f;
  const int chunks = (L + kScanCheckpointInterval - 1) / kScanCheckpointInterval;

  if constexpr (kPrefetch) {
    prefetch_chunk(chunk_rows + ((chunks - 1) & 1) * kChunkElems, p, b, (chunks - 1) * int(kScanCheckpointInterval));
    __pipeline_commit();
  }
  for (int n = w; n < N; n += kSegments)
    carry[((chunks - 1) & 1) * N * kLanes + n * kLanes + lane] =
        active && p.grad_final ? p.grad_final[state_row + n] : 0.f;
  for (int n = 0; n < N; ++n) dA_sums[(w * N + n) * kLanes + lane] = 0.f;
  for (int n = w; n < N; n += kSegments) A_lanes[n * kLanes + lane] = active ? p.A[int64_t(d) * N + n] : 0.f;
  __syncthreads();
  float dD = 0.f, dbias = 0.f;
  int buffer = 0;
  for (int j = chunks - 1; j >= 0; --j) {
    const float* entering = carry + (j & 1) * N * kLanes;  // k at the chunk's end
    float* leaving = carry + ((j + 1) & 1) * N * kLanes;   // k at its start, for the chunk before
    const int c0 = j * int(kScanCheckpointInterval), t0 = c0 + w * kSegment;
    if constexpr (kStaged || kPrefetch) {
      // The chunk after this one reads its staged and prefetched rows after its
      // last per-entry barrier too: every warp must be done with them before
      // they are replaced.
      __syncthreads();
      if constexpr (kPrefetch) {
        if (j > 0) prefetch_chunk(chunk_rows + ((j - 1) & 1) * kChunkElems, p, b, c0 - int(kScanCheckpointInterval));
        __pipeline_commit();
      }
      if constexpr (kStaged) {
        const int valid = min(int(kScanCheckpointInterval), L - c0);
        stage_rows(staged_B, B, p.Bs.length, b_tile.first, b_tile.rows, staged_C, C, p.Cs.length, c_tile.first,
                   c_tile.rows, c0, valid, N, p.vector_group_rows);
      }
      if constexpr (kPrefetch) __pipeline_wait_prior(1);  // this chunk's rows, committed a chunk ago
      __syncthreads();
    }
    // A lane's input k (0 x, 1 delta, 2 grad_y, 3 z) at its segment's position
    // i, prefetched; `global` (the same value in global memory) is read only
    // without the prefetch.
    const T* rows = chunk_rows + (j & 1) * kChunkElems + w * kSegment * kLanes + lane;
    const auto input = [&](int k, int i, const T* global) {
      if constexpr (kPrefetch)
        return to_float(rows[(k * int(kScanCheckpointInterval) + i) * kLanes]);
      else
        return load(global);
    };
    const auto B_rows = segment_rows<T, kStaged>(staged_B, b_tile, N, B + int64_t(b_group) * N, p.Bs.length, t0, L);
    const auto C_rows = segment_rows<T, kStaged>(staged_C, c_tile, N, C + int64_t(c_group) * N, p.Cs.length, t0, L);
    // Positions past the end get zero step and gradient: decay 1, input 0, nothing added.
    // Both sides of the softplus and gate choices are computed and one selected:
    // branches on them split the unrolled positions into blocks (as in the tail).
    float dt[kSegment], dtx[kSegment], dy[kSegment];  // dy: the gradient of y before the gate
    float gB[kSegment], gA[kSegment], y[kSegment];    // sums over n of g B, g a h A, and C h
    float dt_sum = 0.f;                               // the segment's decay is exp(dt_sum A)
#pragma unroll
    for (int i = 0; i < kSegment; ++i) {
      const int t = min(t0 + i, L - 1);
      const bool valid = active && t0 + i < L;
      const float xr = input(0, i, x + t * p.xs.length), dr = input(1, i, delta + t * p.ds.length);
      const float gr = input(2, i, grad_y + t * p.gs.length);
      const float zr = kPrefetch ? input(3, i, z) : z ? load(z + t * p.zs.length) : 0.f;  // prefetched z is 0 without z
      const float raw = dr + bias, smooth = softplus(raw);
      dt[i] = valid ? (p.softplus ? smooth : raw) : 0.f;
      dtx[i] = dt[i] * xr;
      const float dout = valid ? gr : 0.f, gated = dout * zr * fast_sigmoid(zr);
      dy[i] = z ? gated : dout;
      gB[i] = gA[i] = y[i] = 0.f;
      dt_sum += dt[i];
    }
    const float* saved_states = p.checkpoints + ((int64_t(b) * chunks + j) * p.channels + d_read) * N;
    for (int n = 0; n < N; ++n) {
      const float saved = saved_states[n];  // the chunk's entering state, needed after the barrier
      const float An = A_lanes[n * kLanes + lane], A2 = An * kLog2e;
      // a and the state's input u are kept through the barrier; B and C are
      // read again after it rather than kept too (registers).
      float a[kSegment], u[kSegment], Bv[kSegment], Cv[kSegment];
      B_rows.read(n, Bv);
      C_rows.read(n, Cv);
      // The segment's composites from zero starts: the state after it, and k
      // leaving it backwards. With g_i = C_i dy_i + a_{i+1} g_{i+1} one fma a
      // step, k leaving is a_0 g_0; the product of the a_i is one exponential.
      float state = 0.f;
#pragma unroll
      for (int i = 0; i < kSegment; ++i) {
        a[i] = fast_exp2(dt[i] * A2);
        u[i] = dtx[i] * Bv[i];
        state = a[i] * state + u[i];
      }
      float g_first = Cv[kSegment - 1] * dy[kSegment - 1];
#pragma unroll
      for (int i = kSegment - 2; i >= 0; --i) g_first = a[i + 1] * g_first + Cv[i] * dy[i];
      parts.put(buffer, w, lane, fast_exp2(dt_sum * A2), state, a[0] * g_first);
      __syncthreads();
      float h = active ? saved : 0.f, k = entering[n * kLanes + lane];
      parts.enter(buffer, w, lane, h, k);
      B_rows.read(n, Bv);
      C_rows.read(n, Cv);

      // States forward: h before each position; y and dC take the state after it.
      float before[kSegment];
#pragma unroll
      for (int i = 0; i < kSegment; ++i) {
        before[i] = h;
        h = a[i] * h + u[i];
        y[i] += Cv[i] * h;
      }
      // Summed and stored before dB is computed, so that the two arrays are never live together.
      float dC[kSegment];
#pragma unroll
      for (int i = 0; i < kSegment; ++i) dC[i] = dy[i] * (i + 1 < kSegment ? before[i + 1] : h);
      add_group_sums<T>(dC, c_sum, active, lane, p.dC, ((int64_t(b) * L + t0) * p.c_groups + c_group) * N + n,
                        int64_t(p.c_groups) * N, L - t0);
      // The gradient backward.
      float dB[kSegment], dA = 0.f;
#pragma unroll
      for (int i = kSegment - 1; i >= 0; --i) {
        const float g = Cv[i] * dy[i] + k;  // d loss / d h_t
        dB[i] = g * dtx[i];
        gB[i] += g * Bv[i];
        k = a[i] * g;                         // d loss / d h_{t-1} through h_t
        const float g_decay = k * before[i];  // d loss / d (dt A)
        gA[i] += g_decay * An;
        dA += g_decay * dt[i];
      }
      if (w == 0) leaving[n * kLanes + lane] = k;
      dA_sums[(w * N + n) * kLanes + lane] += dA;
      add_group_sums<T>(dB, b_sum, active, lane, p.dB, ((int64_t(b) * L + t0) * p.b_groups + b_group) * N + n,
                        int64_t(p.b_groups) * N, L - t0);
      buffer ^= 1;
    }
    // Every position is computed and only existing ones stored, so the loop has no branches.
    // The addresses are computed afresh: kept from the loads above, through the n loop, they spilled.
    const int t_clamp = opaque(L - 1);
    const int64_t first = (int64_t(b) * L + t0) * p.channels + d;  // [b, t0, d] of the outputs
#pragma unroll
    for (int i = 0; i < kSegment; ++i) {
      const int t = min(t0 + i, t_clamp);
      const bool valid = active && t0 + i < L;
      const float xv = valid ? input(0, i, x + t * p.xs.length) : 0.f,
                  raw = input(1, i, delta + t * p.ds.length) + bias;
      const float ddt = xv * gB[i] + gA[i];
      // softplus' derivative is the sigmoid; above the threshold softplus is the identity.
      const float draw = p.softplus && raw <= 20.f ? ddt * fast_sigmoid(raw) : ddt;
      // The gate's gradient needs y before the gate.
      const float zv = kPrefetch ? input(3, i, z) : z ? load(z + t * p.zs.length) : 0.f;
      const float sig = fast_sigmoid(zv), dout = input(2, i, grad_y + t * p.gs.length);
      const float dz = dout * (y[i] + skip * xv) * sig * (1.f + zv * (1.f - sig));
      const int64_t index = first + i * p.channels;
      if (valid) {
        static_cast<T*>(p.dx)[index] = from_float<T>(dt[i] * gB[i] + skip * dy[i]);
        static_cast<T*>(p.ddelta)[index] = from_float<T>(draw);
        if (z) static_cast<T*>(p.dz)[index] = from_float<T>(dz);
      }
      dD += dy[i] * xv;
      dbias += valid ? draw : 0.f;
    }
  }
  __syncthreads();
  if (active) {
    const float* start = carry + N * kLanes;  // k at position 0, left by chunk 0
    for (int n = w; n < N; n += kSegments) {
      if (p.dinit) p.dinit[state_row + n] = start[n * kLanes + lane];
      float sum = 0.f;
      for (int s = 0; s < kSegments; ++s) sum += dA_sums[(s * N + n) * kLanes + lane];
      atomicAdd(p.dA + int64_t(d) * N + n, sum);
    }
    atomicAdd(p.dD + d, dD);
    if (p.dbias) atomicAdd(p.dbias + d, dbias);
  }
}

}  // namespace

ScanGradients selective_scan_backward(const ScanInputs& in, const ScanCheckpoints& checkpoints,
                                      const at::Tensor& grad_y, const at::Tensor& grad_final_state) {
  const char* what = "selective scan backward (CUDA)";
  check_scan_inputs(in);
  const c10::cuda::CUDAGuard guard(in.x.device());
  const auto streamed = stream_scan_inputs(in, what);
  const auto& [dtype, x, delta, z, B, C, A, D, bias, init] = streamed;
  const int64_t batch = in.x.size(0), length = in.x.size(1), channels = in.x.size(2), N = in.A.size(1);
  if (batch > 65535) fail(what, ": batch ", batch, " is over 65535");
  const auto states = checkpoints.states;
  const int64_t chunks = (length + kScanCheckpointInterval - 1) / kScanCheckpointInterval;
  if (!states.defined() || states.dim() != 4 || states.size(0) != batch || states.size(1) != chunks ||
      states.size(2) != channels || states.size(3) != N || checkpoints.interval != kScanCheckpointInterval ||
      !states.is_contiguous())
    fail(what, ": the checkpoints do not match the inputs (the forward saved none for them)");

  BackwardParams p{};
  static_cast<ScanOperands&>(p) = scan_operands(streamed, in.delta_softplus);
  p.b_span = scatter_span(p.b_width);
  p.c_span = scatter_span(p.c_width);
  // A group's sums are whole where one aligned run of a warp holds all its channels.
  p.b_atomic = !(p.b_span && p.b_width <= kLanes);
  p.c_atomic = !(p.c_span && p.c_width <= kLanes);
  const auto streamed_options = x.options().dtype(dtype);
  const auto fp32 = x.options().dtype(at::kFloat);
  const bool launch = length > 0 && batch > 0 && channels > 0;
  // Atomics add into zeros, and without a launch the sums are zero; else the kernel stores every element.
  const auto group_grad = [&](const at::Tensor& t, bool atomic) {
    const auto options = atomic ? fp32 : streamed_options;
    return atomic || !launch ? at::zeros(t.sizes(), options) : at::empty(t.sizes(), options);
  };
  const auto dy =
      grad_y.defined() ? unit_last_stride(grad_y.to(dtype)) : at::zeros({batch, length, channels}, streamed_options);
  const auto dfinal = grad_final_state.defined() ? grad_final_state.to(at::kFloat).contiguous() : at::Tensor();
  auto dx = at::empty({batch, length, channels}, streamed_options);
  auto ddelta = at::empty({batch, length, channels}, streamed_options);
  auto dz = z.defined() ? at::empty({batch, length, channels}, streamed_options) : at::Tensor();
  auto dB = group_grad(B, p.b_atomic);
  auto dC = group_grad(C, p.c_atomic);
  auto dA = at::zeros({channels, N}, fp32);
  auto dD = at::zeros({channels}, fp32);
  auto dbias = bias.defined() ? at::zeros({channels}, fp32) : at::Tensor();
  auto dinit = init.defined() ? at::empty({batch, channels, N}, fp32) : at::Tensor();

  if (length == 0) {
    // No positions: the final state is the initial one.
    if (dinit.defined()) dinit = dfinal.defined() ? dfinal.clone() : dinit.zero_();
  } else if (launch) {
    p.grad_y = dy.data_ptr();
    p.gs = {dy.stride(0), dy.stride(1)};
    p.checkpoints = states.data_ptr<float>();
    p.grad_final = data_or_null(dfinal);
    p.dx = dx.data_ptr();
    p.ddelta = ddelta.data_ptr();
    p.dz = dz.defined() ? dz.data_ptr() : nullptr;
    p.dB = dB.data_ptr();
    p.dC = dC.data_ptr();
    p.dA = dA.data_ptr<float>();
    p.dD = dD.data_ptr<float>();
    p.dbias = dbias.defined() ? dbias.data_ptr<float>() : nullptr;
    p.dinit = dinit.defined() ? dinit.data_ptr<float>() : nullptr;
    p.b_rows = int(tile_rows(p.b_width, p.b_groups));
    p.c_rows = int(tile_rows(p.c_width, p.c_groups));
    const int64_t staging = staged_rows_bytes(p.b_rows, p.c_rows, N);
    const bool staged = staging <= kStagedRowsBytes;
    p.vector_rows = rows_aligned16(x) && rows_aligned16(delta) && rows_aligned16(dy) &&
                    (!z.defined() || rows_aligned16(z)) && (channels * x.element_size()) % 16 == 0;
    p.vector_group_rows = rows_aligned16(B) && rows_aligned16(C) && (N * B.element_size()) % 16 == 0;
    const size_t shared_bytes = size_t(3 + kSegments) * N * kLanes * sizeof(float) + (staged ? staging : 0);
    const dim3 grid(unsigned((channels + kLanes - 1) / kLanes), unsigned(batch));
    // The mixer's groups (B over 64 channels, by atomics; C over 16, stored)
    // get their sums' layout at compile time; other widths read it at run time.
    const bool mixer_groups = p.b_span == kLanes && p.b_atomic && p.c_span == 16 && !p.c_atomic;
    dispatch_dtype(dtype, what, [&](auto tag) {
      using T = decltype(tag);
      using Any = GroupSum<kAnySpan>;
      const auto kernel =
          mixer_groups ? (staged ? scan_backward_kernel<T, true, GroupSum<kLanes, true>, GroupSum<16>>
                                 : scan_backward_kernel<T, false, GroupSum<kLanes, true>, GroupSum<16>>)
                       : (staged ? scan_backward_kernel<T, true, Any, Any> : scan_backward_kernel<T, false, Any, Any>);
      const size_t bytes = shared_bytes + (kPrefetches<T> ? 2 * kChunkElems * sizeof(T) : 0);
      // With the static parts, more than 48 KiB needs the opt-in even where `bytes` alone is less.
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes));
      kernel<<<grid, kScanThreads, bytes, at::cuda::getCurrentCUDAStream()>>>(p);
    });
    check_launch("selective scan backward");
  }
  const auto as = [](const at::Tensor& grad, const at::Tensor& input) { return grad.to(input.scalar_type()); };
  ScanGradients grads;
  grads.x = as(dx, in.x);
  grads.delta = as(ddelta, in.delta);
  grads.A = as(dA, in.A);
  grads.B = as(dB, in.B);
  grads.C = as(dC, in.C);
  grads.D = as(dD, in.D);
  if (in.z) grads.z = as(dz, *in.z);
  if (in.delta_bias) grads.delta_bias = as(dbias, *in.delta_bias);
  if (in.initial_state) grads.initial_state = as(dinit, *in.initial_state);
  return grads;
}

}  // namespace hybridize::kernels::cuda
