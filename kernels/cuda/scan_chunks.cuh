#pragma once
// How the backward scan kernel splits the work. A block takes
// kLanes adjacent channels of one batch row, one per lane, and walks the
// sequence in chunks of kScanCheckpointInterval positions; each of its
// kSegments warps takes kSegment consecutive positions of a chunk. Splitting
// time over warps gives the GPU eight times the threads that one thread per
// channel would, which is what the sequential recurrences need to hide their
// latencies (the 15B mixer has only batch x 4096 channels).
//
// Per state entry n, a warp first composes its segment alone, both ways: over
// positions i, the states' recurrence h -> a_i h + u_i composes to
// h -> P h + Q, and the gradient's k -> a_i (c_i + k) to k -> P k + K. The
// block shares these through shared memory, and each warp then applies the
// composites of the segments before (or after) its own to the chunk's
// entering value to start its own positions exactly.
#include <algorithm>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_kernels.h"

namespace hybridize::kernels::cuda {

constexpr int kLanes = 32;
constexpr int kSegment = 8;
constexpr int kSegments = int(kScanCheckpointInterval) / kSegment;
constexpr int kScanThreads = kLanes * kSegments;
static_assert(kSegments * kSegment == kScanCheckpointInterval, "a chunk is whole segments");

// Each segment's composites per lane, double-buffered so that one barrier per
// state entry separates a buffer's writes from its reads. The states' (Q, P)
// and the gradient's (P, K) are kept apart, so that a warp reads each
// segment's pair in one conflict-free 8-byte load: (Q, P) of the segments
// before its own, (P, K) of those after.
struct SegmentParts {
  float2 pairs[2][kSegments][2][kLanes];  // [buffer][segment][0: (Q, P), 1: (P, K)][lane]

  __device__ __forceinline__ void put(int buffer, int w, int lane, float P, float Q, float K) {
    pairs[buffer][w][0][lane] = make_float2(Q, P);
    pairs[buffer][w][1][lane] = make_float2(P, K);
  }

  // Applies the composites of the segments before `w` to h, the state entering
  // the chunk, and those after it to k, the gradient entering its end. w is
  // the same across a warp: one branch picks its straight-line steps.
  __device__ __forceinline__ void enter(int buffer, int w, int lane, float& h, float& k) const {
    switch (w) {
      case 0:
        return enter<0>(buffer, lane, h, k);
      case 1:
        return enter<1>(buffer, lane, h, k);
      case 2:
        return enter<2>(buffer, lane, h, k);
      case 3:
        return enter<3>(buffer, lane, h, k);
      case 4:
        return enter<4>(buffer, lane, h, k);
      case 5:
        return enter<5>(buffer, lane, h, k);
      case 6:
        return enter<6>(buffer, lane, h, k);
      default:
        return enter<kSegments - 1>(buffer, lane, h, k);
    }
  }

  template <int kW>
  __device__ __forceinline__ void enter(int buffer, int lane, float& h, float& k) const {
    static_assert(kSegments == 8, "enter's cases cover eight segments");
#pragma unroll
    for (int s = 0; s < kW; ++s) h = pairs[buffer][s][0][lane].y * h + pairs[buffer][s][0][lane].x;
#pragma unroll
    for (int s = kSegments - 1; s > kW; --s) k = pairs[buffer][s][1][lane].x * k + pairs[buffer][s][1][lane].y;
  }
};

// B and C rows reach the per-state-entry loops one state entry at a time, for
// a segment's positions. Where they fit, a block stages the group rows its
// channels use for a whole chunk in shared memory, as fp32 [row][n][position],
// so that a warp reads one state entry of its segment in two 16-byte loads;
// otherwise (many narrow groups and a large state) it reads global memory.
constexpr int kRowPitch =
    int(kScanCheckpointInterval) + 4;            // floats per staged (row, n), padded against bank conflicts
constexpr int64_t kStagedRowsBytes = 40 * 1024;  // at most this much staging per block

// The group rows a tile of kLanes channels may touch, with groups of `width` channels.
inline int64_t tile_rows(int64_t width, int64_t groups) { return std::min<int64_t>(groups, (kLanes - 1) / width + 2); }

inline int64_t staged_rows_bytes(int64_t b_rows, int64_t c_rows, int64_t d_state) {
  return (b_rows + c_rows) * d_state * kRowPitch * int64_t(sizeof(float));
}

// Stages the group rows [B_first, B_first + B_rows) of B and [C_first,
// C_first + C_rows) of C (one batch row each) for positions t_begin ..
// t_begin + kScanCheckpointInterval - 1, zeros from `valid` positions on.
// Every thread takes part, and issues its loads before its stores so that
// their latencies overlap. With `pieces` (every row 16-byte aligned, N
// elements a multiple of 16 bytes) a thread copies 16-byte pieces, each of
// one position, consecutive threads consecutive positions so that the
// transposed stores are conflict-free. Else warp w copies every kSegments-th
// position from w element by element.
template <class T>
__device__ __forceinline__ void stage_rows(float* B_dst, const T* B_src, int64_t B_stride, int B_first, int B_rows,
                                           float* C_dst, const T* C_src, int64_t C_stride, int C_first, int C_rows,
                                           int t_begin, int valid, int N, bool pieces) {
  constexpr int kPositions = int(kScanCheckpointInterval);
  const int lane = threadIdx.x % kLanes, w = threadIdx.x / kLanes;
  if (pieces) {
    // A unit is one piece at kLanes consecutive positions, one per lane: a warp's piece is the same for all its lanes.
    constexpr int kPer = 16 / int(sizeof(T)), kHalves = kPositions / kLanes;
    constexpr int kInFlight = 3;  // a lane's units whose loads are in flight together: the 15B shape has 2.5 a warp
    const int B_pieces = B_rows * N / kPer, units = (B_pieces + C_rows * N / kPer) * kHalves;
    struct Place {
      bool in_B;
      int e, i;  // the piece's first element in its staged rows; the lane's position
    };
    const auto place = [&](int unit) {
      const int piece = unit / kHalves;
      const bool in_B = piece < B_pieces;
      return Place{in_B, (in_B ? piece : piece - B_pieces) * kPer, unit % kHalves * kLanes + lane};
    };
    const T* B_first_row = B_src + t_begin * B_stride + int64_t(B_first) * N;
    const T* C_first_row = C_src + t_begin * C_stride + int64_t(C_first) * N;
    for (int first = w; first < units; first += kInFlight * kSegments) {
      // Raw, and selected rather than branched around: all of a lane's loads issue before the first is waited on.
      uint4 raw[kInFlight];
#pragma unroll
      for (int k = 0; k < kInFlight; ++k) {
        const int unit = first + k * kSegments;
        const Place at = place(unit);
        const T* src = (at.in_B ? B_first_row : C_first_row) + at.i * (at.in_B ? B_stride : C_stride) + at.e;
        raw[k] = unit < units && at.i < valid ? __ldg(reinterpret_cast<const uint4*>(src)) : make_uint4(0, 0, 0, 0);
      }
#pragma unroll
      for (int k = 0; k < kInFlight; ++k) {
        const int unit = first + k * kSegments;
        const Place at = place(unit);
        float v[kPer];
        unpack<T>(raw[k], v);
        float* dst = (at.in_B ? B_dst : C_dst) + at.e * kRowPitch + at.i;
        if (unit < units) {
#pragma unroll
          for (int e = 0; e < kPer; ++e) dst[e * kRowPitch] = v[e];
        }
      }
    }
    return;
  }
  const int B_elems = B_rows * N, C_elems = C_rows * N;
  constexpr int kPerWarp = kPositions / kSegments;
  for (int e = lane; e < max(B_elems, C_elems); e += kLanes) {
    const int eB = min(e, B_elems - 1), eC = min(e, C_elems - 1);
    float vB[kPerWarp], vC[kPerWarp];
#pragma unroll
    for (int k = 0; k < kPerWarp; ++k) {
      const int64_t t = t_begin + min(w + k * kSegments, valid - 1);
      vB[k] = load(B_src + t * B_stride + int64_t(B_first) * N + eB);
      vC[k] = load(C_src + t * C_stride + int64_t(C_first) * N + eC);
    }
#pragma unroll
    for (int k = 0; k < kPerWarp; ++k) {
      const int i = w + k * kSegments;
      if (e < B_elems) B_dst[e * kRowPitch + i] = i < valid ? vB[k] : 0.f;
      if (e < C_elems) C_dst[e * kRowPitch + i] = i < valid ? vC[k] : 0.f;
    }
  }
}

// One lane's B or C values for its segment's positions, one state entry at a time.
template <class T, bool kStaged>
struct SegmentRows {
  const float* staged;  // kStaged: the lane's row, at its segment's first position
  const T* row;         // else: the lane's group row at the segment's first position (clamped to the end)
  int64_t stride;       // and the position stride,
  int last;             // and the last position of the segment that exists (positions after it read it)

  __device__ __forceinline__ void read(int n, float (&out)[kSegment]) const {
    if constexpr (kStaged) {
      const float4* p = reinterpret_cast<const float4*>(staged + n * kRowPitch);
      const float4 lo = p[0], hi = p[1];
      out[0] = lo.x, out[1] = lo.y, out[2] = lo.z, out[3] = lo.w;
      out[4] = hi.x, out[5] = hi.y, out[6] = hi.z, out[7] = hi.w;
    } else {
#pragma unroll
      for (int i = 0; i < kSegment; ++i) out[i] = load(row + min(i, last) * stride + n);
    }
  }
};

// Where a block's B (or C) rows are and which this lane uses.
struct TileRows {
  int first, rows, mine;  // the tile's first group row, its row count, this lane's row among them
};

__device__ __forceinline__ TileRows tile_rows_of(int width, int channels, int d_read) {
  const int d0 = blockIdx.x * kLanes, d_last = min(d0 + kLanes, channels) - 1;
  return {d0 / width, d_last / width - d0 / width + 1, d_read / width - d0 / width};
}

// The segment rows of one chunk for a lane: staged at `staged` (rows of this
// tile, [row][n][position]) or read from `group_row` (the lane's group row at
// position 0) directly.
template <class T, bool kStaged>
__device__ __forceinline__ SegmentRows<T, kStaged> segment_rows(const float* staged, const TileRows& tile, int N,
                                                                const T* group_row, int64_t stride, int t0, int L) {
  const int w = threadIdx.x / kLanes;
  const int start = min(t0, L - 1);
  return {staged + int64_t(tile.mine) * N * kRowPitch + w * kSegment, group_row + int64_t(start) * stride, stride,
          L - 1 - start};
}

}  // namespace hybridize::kernels::cuda
