// Backward of the selective scan (semantics: kernels/selective_scan.h).
//
// One thread per channel, as in the forward; a block is one warp of adjacent
// channels of one batch row. With h_t = a_t h_{t-1} + dt_t x_t B_t and
// a_t = exp(dt_t A), the gradient g_t of the loss with respect to h_t runs
// backwards: g_t = a_{t+1} g_{t+1} + C_t dy_t, seeded by the final state's
// gradient. Each position's input gradients need h_{t-1}, so the thread walks
// the forward's checkpoint intervals from the last: from the interval's saved
// start it recomputes the starts of its sub-chunks (kept in shared memory),
// then per sub-chunk from the last, the states entering each position (shared
// memory again), and runs the reverse recurrence over them.
//
// Reductions: dA, dD and delta_bias sum over positions in per-thread
// accumulators, then over batch rows with one fp32 atomic per block and
// entry. dB and dC sum over the channels of a group across the warp's lanes,
// then take one fp32 atomic per group and state entry: where a group's lanes
// are an aligned power-of-two run (widths 1, 2, 4, .. 32 or multiples of 32),
// a reduce-scatter spreads the entries' sums over the run's lanes, which then
// store them in one instruction; other widths take a segmented sum.
//
// Few warps share an SM (the tables take its shared memory), so each warp's
// latencies must overlap within itself: the per-position loops have no
// branches (loads unconditional, tables padded to MAXN entries), the reverse
// step issues a slice's B and C loads together and interleaves its shuffles,
// the recomputation is unrolled over positions, and the gradient of y is
// fetched a position ahead.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/scan_inputs.cuh"

namespace hybridize::kernels::cuda {

namespace {

constexpr int kWarp = 32;  // channels per block, one thread each

struct BackwardParams : ScanOperands {
  const void* grad_y;
  Strides gs;
  const float *checkpoints, *grad_final;
  void *dx, *ddelta, *dz;           // [batch, length, channels], the streamed element type
  float *dB, *dC;                   // [batch, length, groups, d_state], zeroed
  float *dA, *dD, *dbias;           // zeroed; dbias null without delta_bias
  float* dinit;                     // [batch, channels, d_state], or null without initial_state
  int interval, checkpoint_count;   // positions per checkpoint interval; intervals
  int subchunk, subchunks;          // positions per sub-chunk; most sub-chunks per interval
  int b_span, c_span;               // lanes per aligned run of one B / C group (scatter_span), or 0
};

// Bit k is set when lane + 2^k holds a channel of this lane's group (groups of
// `width` adjacent channels), i.e. when the segmented sum may add across 2^k.
__device__ __forceinline__ unsigned segment_steps(int lane, int d, int width) {
  unsigned steps = 0;
  for (int k = 0; (1 << k) < kWarp; ++k) {
    const int o = 1 << k;
    if (lane + o < kWarp && (d + o) / width == d / width) steps |= 1u << k;
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
  for (int k = 0; (1 << k) < kWarp; ++k) {
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
  for (int s = 0; (1 << s) < kWarp; ++s) {
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

// Adds v, one entry per state entry n0 .. n0 + K - 1 of this lane's group, to
// the group's row `out` (entries past `valid` are padding) summed over the
// group's channels: by reduce_scatter where the groups are aligned runs of a
// power-of-two count of lanes (`span`), else by segment_sums and the group's
// first lane.
template <int K>
__device__ __forceinline__ void add_group_sums(float (&v)[K], int span, unsigned steps, bool head, bool active,
                                               int lane, float* out, int valid) {
  if (span) {
    int first, count;
    bool owner;
    reduce_scatter(v, span, lane, first, count, owner);
    if (active && owner) {
#pragma unroll
      for (int i = 0; i < K; ++i)
        if (i < count && first + i < valid) atomicAdd(out + first + i, v[i]);
    }
  } else {
    segment_sums(v, steps);
    if (head) {
#pragma unroll
      for (int i = 0; i < K; ++i)
        if (i < valid) atomicAdd(out + i, v[i]);
    }
  }
}

// Lanes per aligned run that one group of `width` channels makes in a warp
// (warps start at multiples of 32 channels, groups at multiples of width), or
// 0 where the runs are not aligned powers of two.
int scatter_span(int width) {
  if (width % kWarp == 0) return kWarp;
  return (width & (width - 1)) == 0 ? width : 0;  // a power of two below 32 divides it
}

// State entries per slice of the reverse step: a slice's B and C loads issue
// together and its dB and dC sums run interleaved, without the registers of
// all MAXN entries at once.
template <int MAXN>
constexpr int kSlice = MAXN < 16 ? MAXN : 16;

template <class T, int MAXN>
__global__ void __launch_bounds__(kWarp) scan_backward_kernel(const BackwardParams p) {
  extern __shared__ float smem[];
  const int lane = threadIdx.x, b = blockIdx.y, d = blockIdx.x * kWarp + lane;
  // Every lane runs every loop (the segmented sums need the whole warp); lanes
  // past the last channel read the last channel's inputs, use zeros instead and
  // write nothing. Loads are unconditional (an address always valid, the value
  // selected after) and the tables hold MAXN entries per position, so the
  // per-position loops have no branches that would keep the compiler from
  // overlapping their latencies.
  const bool active = d < p.channels;
  const int N = p.d_state, L = p.length, d_read = active ? d : p.channels - 1;
  // Per-thread columns: entry (i, n) of a table at [(i * MAXN + n) * kWarp + lane].
  float* sub_start = smem;                                     // [subchunks][MAXN]: state entering each sub-chunk
  float* entering = sub_start + p.subchunks * MAXN * kWarp;   // [subchunk][MAXN]: state entering each position
  float* dA_sum = entering + p.subchunk * MAXN * kWarp;       // [MAXN]: this channel's dA over positions
  const auto column = [&](float* table, int i, int n) -> float& { return table[(i * MAXN + n) * kWarp + lane]; };

  const int64_t row = int64_t(b) * L * p.channels + d;  // [b, 0, d] of the contiguous gradients
  const T* x = static_cast<const T*>(p.x) + b * p.xs.batch + d_read;
  const T* delta = static_cast<const T*>(p.delta) + b * p.ds.batch + d_read;
  const T* z = p.z ? static_cast<const T*>(p.z) + b * p.zs.batch + d_read : nullptr;
  const T* grad_y = static_cast<const T*>(p.grad_y) + b * p.gs.batch + d_read;
  const int b_group = active ? d / p.b_width : 0, c_group = active ? d / p.c_width : 0;
  const T* B = static_cast<const T*>(p.B) + b * p.Bs.batch + int64_t(b_group) * N;
  const T* C = static_cast<const T*>(p.C) + b * p.Cs.batch + int64_t(c_group) * N;
  const unsigned b_steps = segment_steps(lane, d, p.b_width), c_steps = segment_steps(lane, d, p.c_width);
  const bool b_head = active && (lane == 0 || (d - 1) / p.b_width != b_group);
  const bool c_head = active && (lane == 0 || (d - 1) / p.c_width != c_group);

  float A[MAXN], g[MAXN];
#pragma unroll
  for (int n = 0; n < MAXN; ++n) {
    A[n] = active && n < N ? p.A[int64_t(d) * N + n] : 0.f;
    g[n] = active && n < N && p.grad_final ? p.grad_final[(int64_t(b) * p.channels + d) * N + n] : 0.f;
    column(dA_sum, 0, n) = 0.f;
  }
  const float skip = active ? p.D[d] : 0.f, bias = active && p.bias ? p.bias[d] : 0.f;
  float dD = 0.f, dbias = 0.f;

  // x, the step size dt and its pre-softplus value at position t.
  const auto inputs_at = [&](int t, float& xv, float& dt, float& raw) {
    const float xr = load(x + t * p.xs.length), dr = load(delta + t * p.ds.length);
    xv = active ? xr : 0.f;
    raw = (active ? dr : 0.f) + bias;
    dt = p.softplus ? softplus(raw) : raw;
  };
  // Padding entries (n >= N) have A, B and C zero and h and g zero, and stay
  // zero: the arithmetic needs no n < N guard, only the loads (which read
  // entry N - 1 and use zero) and the gradients' stores do.
  const auto b_at = [&](int t, int n) {
    const float v = load(B + t * p.Bs.length + min(n, N - 1));
    return active && n < N ? v : 0.f;
  };
  const auto c_at = [&](int t, int n) {
    const float v = load(C + t * p.Cs.length + min(n, N - 1));
    return active && n < N ? v : 0.f;
  };
  const auto dout_at = [&](int t) {
    const float v = load(grad_y + t * p.gs.length);
    return active ? v : 0.f;
  };
  const auto z_at = [&](int t) {
    if (!z) return 0.f;
    const float v = load(z + t * p.zs.length);
    return active ? v : 0.f;
  };
  // h: the state entering position t -> the state after it (the forward's arithmetic).
  const auto advance = [&](float (&h)[MAXN], int t) {
    float xv, dt, raw;
    inputs_at(t, xv, dt, raw);
    const float dtx = dt * xv;
#pragma unroll
    for (int n = 0; n < MAXN; ++n) h[n] = exp2f(dt * (A[n] * kLog2e)) * h[n] + dtx * b_at(t, n);
  };
  // Positions advanced per unrolled step of the recomputation (fewer for a
  // larger state: their loads in flight take registers).
  constexpr int kAhead = MAXN <= 16 ? 4 : MAXN <= 32 ? 2 : 1;
  const auto keep = [&](float* table, int i, const float (&h)[MAXN]) {
#pragma unroll
    for (int n = 0; n < MAXN; ++n) column(table, i, n) = h[n];
  };

  for (int j = p.checkpoint_count - 1; j >= 0; --j) {
    const int t_begin = j * p.interval, t_end = min(t_begin + p.interval, L);
    const int subs = (t_end - t_begin + p.subchunk - 1) / p.subchunk;
    float h[MAXN];
    const float* saved = p.checkpoints + ((int64_t(b) * p.checkpoint_count + j) * p.channels + d) * N;
#pragma unroll
    for (int n = 0; n < MAXN; ++n) h[n] = active && n < N ? saved[n] : 0.f;
    for (int s = 0; s < subs; ++s) {
      keep(sub_start, s, h);
      if (s + 1 < subs) {
        // Unrolled so that the loads of later positions issue before earlier ones finish.
#pragma unroll kAhead
        for (int t = t_begin + s * p.subchunk; t < t_begin + (s + 1) * p.subchunk; ++t) advance(h, t);
      }
    }
    for (int s = subs - 1; s >= 0; --s) {
      const int ts = t_begin + s * p.subchunk, te = min(ts + p.subchunk, t_end);
#pragma unroll
      for (int n = 0; n < MAXN; ++n) h[n] = column(sub_start, s, n);
#pragma unroll kAhead
      for (int t = ts; t + 1 < te; ++t) {
        keep(entering, t - ts, h);
        advance(h, t);
      }
      keep(entering, te - 1 - ts, h);
      // The gradient of y and the gate (read by no forward pass, so not in
      // cache) are fetched one position ahead.
      float dout_next = dout_at(te - 1), z_next = z_at(te - 1);
      for (int t = te - 1; t >= ts; --t) {
        const float dout = dout_next, zv = z_next;
        dout_next = dout_at(max(t - 1, ts));
        z_next = z_at(max(t - 1, ts));
        float xv, dt, raw;
        inputs_at(t, xv, dt, raw);
        const float dtx = dt * xv;
        // The gate's factor on y needs no state; its gradient needs y, summed below.
        const float sig = z ? 1.f / (1.f + __expf(-zv)) : 0.f;
        const float dy = z ? dout * zv * sig : dout;
        dD += dy * xv;
        float y = skip * xv, dx = skip * dy, ddt = 0.f;  // y_t before the gate, from the recomputed state after t
        float* dB = p.dB + ((int64_t(b) * L + t) * p.b_groups + b_group) * N;
        float* dC = p.dC + ((int64_t(b) * L + t) * p.c_groups + c_group) * N;
        constexpr int K = kSlice<MAXN>;
#pragma unroll
        for (int n0 = 0; n0 < MAXN; n0 += K) {
          float dB_part[K], dC_part[K];
#pragma unroll
          for (int i = 0; i < K; ++i) {
            const int n = n0 + i;
            const float before = column(entering, t - ts, n), a = exp2f(dt * (A[n] * kLog2e));
            const float Bn = b_at(t, n), Cn = c_at(t, n), after = a * before + dtx * Bn;
            y += Cn * after;
            g[n] += Cn * dy;  // now d loss / d h_t
            dC_part[i] = dy * after;
            dB_part[i] = g[n] * dtx;
            dx += g[n] * dt * Bn;
            const float g_decay = g[n] * a * before;  // d loss / d (dt * A)
            ddt += g[n] * xv * Bn + g_decay * A[n];
            column(dA_sum, 0, n) += g_decay * dt;
            g[n] *= a;  // now d loss / d h_{t-1} through h_t
          }
          add_group_sums(dC_part, p.c_span, c_steps, c_head, active, lane, dC + n0, N - n0);
          add_group_sums(dB_part, p.b_span, b_steps, b_head, active, lane, dB + n0, N - n0);
        }
        const float dz = z ? dout * y * sig * (1.f + zv * (1.f - sig)) : 0.f;
        // softplus' derivative is the sigmoid; above the threshold softplus is the identity.
        const float draw = p.softplus ? (raw > 20.f ? ddt : ddt / (1.f + __expf(-raw))) : ddt;
        dbias += draw;
        if (active) {
          const int64_t index = row + int64_t(t) * p.channels;
          static_cast<T*>(p.dx)[index] = from_float<T>(dx);
          static_cast<T*>(p.ddelta)[index] = from_float<T>(draw);
          if (z) static_cast<T*>(p.dz)[index] = from_float<T>(dz);
        }
      }
    }
  }
  if (active) {
#pragma unroll
    for (int n = 0; n < MAXN; ++n) {
      if (n < N) {
        if (p.dinit) p.dinit[(int64_t(b) * p.channels + d) * N + n] = g[n];
        atomicAdd(p.dA + int64_t(d) * N + n, column(dA_sum, 0, n));
      }
    }
    atomicAdd(p.dD + d, dD);
    if (p.dbias) atomicAdd(p.dbias + d, dbias);
  }
}

template <class T, int MAXN>
void launch(const BackwardParams& p, int64_t batch) {
  const auto kernel = scan_backward_kernel<T, MAXN>;
  const size_t bytes = size_t(p.subchunks + p.subchunk + 1) * MAXN * kWarp * sizeof(float);
  if (bytes > 48 * 1024) cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes));
  const dim3 grid(unsigned((p.channels + kWarp - 1) / kWarp), unsigned(batch));
  kernel<<<grid, kWarp, bytes, at::cuda::getCurrentCUDAStream()>>>(p);
  check_launch("selective scan backward");
}

}  // namespace

ScanGradients selective_scan_backward(const ScanInputs& in, const ScanCheckpoints& checkpoints, const at::Tensor& grad_y,
                                      const at::Tensor& grad_final_state) {
  const char* what = "selective scan backward (CUDA)";
  check_scan_inputs(in);
  const c10::cuda::CUDAGuard guard(in.x.device());
  const auto streamed = stream_scan_inputs(in, what);
  const auto& [dtype, x, delta, z, B, C, A, D, bias, init] = streamed;
  const int64_t batch = in.x.size(0), length = in.x.size(1), channels = in.x.size(2), N = in.A.size(1);
  if (batch > 65535) fail(what, ": batch ", batch, " is over 65535");
  const auto states = checkpoints.states;
  if (!states.defined() || states.dim() != 4 || states.size(0) != batch || states.size(2) != channels ||
      states.size(3) != N || states.size(1) * checkpoints.interval < length || !states.is_contiguous())
    fail(what, ": the checkpoints do not match the inputs (the forward saved none for them)");

  const auto streamed_options = x.options().dtype(dtype);
  const auto fp32 = x.options().dtype(at::kFloat);
  const auto dy = grad_y.defined() ? unit_last_stride(grad_y.to(dtype)) : at::zeros({batch, length, channels}, streamed_options);
  const auto dfinal = grad_final_state.defined() ? grad_final_state.to(at::kFloat).contiguous() : at::Tensor();
  auto dx = at::empty({batch, length, channels}, streamed_options);
  auto ddelta = at::empty({batch, length, channels}, streamed_options);
  auto dz = z.defined() ? at::empty({batch, length, channels}, streamed_options) : at::Tensor();
  auto dB = at::zeros({batch, length, B.size(2), N}, fp32);
  auto dC = at::zeros({batch, length, C.size(2), N}, fp32);
  auto dA = at::zeros({channels, N}, fp32);
  auto dD = at::zeros({channels}, fp32);
  auto dbias = bias.defined() ? at::zeros({channels}, fp32) : at::Tensor();
  auto dinit = init.defined() ? at::empty({batch, channels, N}, fp32) : at::Tensor();

  if (length == 0) {
    // No positions: the final state is the initial one.
    if (dinit.defined()) dinit = dfinal.defined() ? dfinal.clone() : dinit.zero_();
  } else if (batch > 0 && channels > 0) {
    BackwardParams p{};
    static_cast<ScanOperands&>(p) = scan_operands(streamed, in.delta_softplus);
    p.grad_y = dy.data_ptr();
    p.gs = {dy.stride(0), dy.stride(1)};
    p.checkpoints = states.data_ptr<float>();
    p.grad_final = data_or_null(dfinal);
    p.dx = dx.data_ptr();
    p.ddelta = ddelta.data_ptr();
    p.dz = dz.defined() ? dz.data_ptr() : nullptr;
    p.dB = dB.data_ptr<float>();
    p.dC = dC.data_ptr<float>();
    p.dA = dA.data_ptr<float>();
    p.dD = dD.data_ptr<float>();
    p.dbias = dbias.defined() ? dbias.data_ptr<float>() : nullptr;
    p.dinit = dinit.defined() ? dinit.data_ptr<float>() : nullptr;
    p.interval = int(checkpoints.interval);
    p.checkpoint_count = int(states.size(1));
    p.subchunk = int(scan_backward_subchunk(N));
    p.subchunks = (p.interval + p.subchunk - 1) / p.subchunk;
    p.b_span = scatter_span(p.b_width);
    p.c_span = scatter_span(p.c_width);
    dispatch_dtype(dtype, what, [&](auto tag) {
      using T = decltype(tag);
      if (N <= 16) launch<T, 16>(p, batch);
      else if (N <= 32) launch<T, 32>(p, batch);
      else launch<T, 64>(p, batch);
    });
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
