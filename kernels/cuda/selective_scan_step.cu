// One decoding step of the selective scan: one thread per (batch row, channel)
// reads that channel's fp32 state, advances it by one position and writes the
// new state and y. Decode is bound by the state's bytes, read and written once.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_kernels.h"

namespace hybridize::kernels::cuda {

namespace {

constexpr int kThreads = 128;

struct StepParams {
  const void *x, *delta, *z, *B, *C;
  const float *A, *D, *bias, *state;
  void* y;
  float* new_state;
  int batch, channels, d_state, b_groups, c_groups, b_width, c_width;
  bool softplus;
};

template <class T, int MAXN>
__global__ void __launch_bounds__(kThreads) scan_step_kernel(const StepParams p) {
  const int64_t index = int64_t(blockIdx.x) * kThreads + threadIdx.x;
  if (index >= int64_t(p.batch) * p.channels) return;
  const int b = int(index / p.channels), d = int(index % p.channels), N = p.d_state;
  const float xv = load(static_cast<const T*>(p.x) + index);
  float dt = load(static_cast<const T*>(p.delta) + index) + (p.bias ? p.bias[d] : 0.f);
  if (p.softplus) dt = softplus(dt);
  const float dtx = dt * xv;
  const T* Brow = static_cast<const T*>(p.B) + (int64_t(b) * p.b_groups + d / p.b_width) * N;
  const T* Crow = static_cast<const T*>(p.C) + (int64_t(b) * p.c_groups + d / p.c_width) * N;
  const float* A = p.A + int64_t(d) * N;
  const float* h = p.state + index * N;
  float* h_new = p.new_state + index * N;
  float acc = 0.f;
#pragma unroll
  for (int n = 0; n < MAXN; ++n) {
    if (n < N) {
      const float next = exp2f(dt * A[n] * kLog2e) * h[n] + dtx * load(Brow + n);
      h_new[n] = next;
      acc += load(Crow + n) * next;
    }
  }
  float out = acc + p.D[d] * xv;
  if (p.z) out *= silu(load(static_cast<const T*>(p.z) + index));
  static_cast<T*>(p.y)[index] = from_float<T>(out);
}

void check_step(const StepInputs& in) {
  const char* what = "selective scan step";
  if (!in.x.defined() || in.x.dim() != 2) fail(what, ": tensor 'x' must be [batch, channels]");
  const int64_t batch = in.x.size(0), channels = in.x.size(1);
  if (!in.A.defined() || in.A.dim() != 2 || in.A.size(0) != channels)
    fail(what, ": tensor 'A' must be [", channels, ", d_state]");
  const int64_t N = in.A.size(1);
  const auto expect = [&](const at::Tensor& t, at::IntArrayRef shape, const char* name) {
    if (!t.defined() || t.sizes() != shape) fail(what, ": tensor '", name, "' must have shape ", shape);
  };
  expect(in.delta, {batch, channels}, "delta");
  expect(in.state, {batch, channels, N}, "state");
  expect(in.D, {channels}, "D");
  if (in.z) expect(*in.z, {batch, channels}, "z");
  if (in.delta_bias) expect(*in.delta_bias, {channels}, "delta_bias");
  for (const auto& [t, name] : {std::pair{&in.B, "B"}, std::pair{&in.C, "C"}}) {
    if (!t->defined() || t->dim() != 3) fail(what, ": tensor '", name, "' must be [batch, groups, d_state]");
    const int64_t groups = t->size(1);
    if (groups == 0 || channels % groups != 0)
      fail(what, ": ", groups, " groups of '", name, "' do not divide ", channels, " channels");
    expect(*t, {batch, groups, N}, name);
  }
  if (N > kMaxScanState) fail(what, " (CUDA): d_state ", N, " is not supported (at most ", kMaxScanState, ")");
  const auto device = in.x.device();
  for (const auto& [t, name] : {std::pair{&in.delta, "delta"}, std::pair{&in.A, "A"}, std::pair{&in.B, "B"},
                                std::pair{&in.C, "C"}, std::pair{&in.D, "D"}, std::pair{&in.state, "state"}})
    expect_device(*t, device, what, name);
  if (in.z) expect_device(*in.z, device, what, "z");
  if (in.delta_bias) expect_device(*in.delta_bias, device, what, "delta_bias");
}

}  // namespace

StepOutputs selective_scan_step(const StepInputs& in) {
  check_step(in);
  const c10::cuda::CUDAGuard guard(in.x.device());
  const int64_t batch = in.x.size(0), channels = in.x.size(1), N = in.A.size(1);
  auto dtype = in.x.scalar_type();
  const bool uniform = in.delta.scalar_type() == dtype && in.B.scalar_type() == dtype && in.C.scalar_type() == dtype &&
                       (!in.z || in.z->scalar_type() == dtype);
  if (!uniform || !kernel_dtype(dtype)) dtype = at::kFloat;
  const auto dense = [&](const at::Tensor& t) { return t.to(dtype).contiguous(); };
  const auto fp32 = [](const at::Tensor& t) { return t.to(at::kFloat).contiguous(); };
  const auto x = dense(in.x), delta = dense(in.delta), B = dense(in.B), C = dense(in.C);
  const auto z = in.z ? dense(*in.z) : at::Tensor();
  const auto A = fp32(in.A), D = fp32(in.D), state = fp32(in.state);
  const auto bias = in.delta_bias ? fp32(*in.delta_bias) : at::Tensor();
  auto y = at::empty({batch, channels}, x.options());
  auto new_state = at::empty({batch, channels, N}, state.options());
  if (y.numel() == 0) return {y.to(in.x.scalar_type()), new_state};

  StepParams p{};
  p.x = x.data_ptr();
  p.delta = delta.data_ptr();
  p.z = z.defined() ? z.data_ptr() : nullptr;
  p.B = B.data_ptr();
  p.C = C.data_ptr();
  p.A = A.data_ptr<float>();
  p.D = D.data_ptr<float>();
  p.bias = bias.defined() ? bias.data_ptr<float>() : nullptr;
  p.state = state.data_ptr<float>();
  p.y = y.data_ptr();
  p.new_state = new_state.data_ptr<float>();
  p.batch = int(batch);
  p.channels = int(channels);
  p.d_state = int(N);
  p.b_groups = int(B.size(1));
  p.c_groups = int(C.size(1));
  p.b_width = int(channels / B.size(1));
  p.c_width = int(channels / C.size(1));
  p.softplus = in.delta_softplus;
  const auto blocks = unsigned((batch * channels + kThreads - 1) / kThreads);
  const auto stream = at::cuda::getCurrentCUDAStream();
  dispatch_dtype(dtype, "selective scan step (CUDA)", [&](auto tag) {
    using T = decltype(tag);
    if (N <= 16)
      scan_step_kernel<T, 16><<<blocks, kThreads, 0, stream>>>(p);
    else if (N <= 32)
      scan_step_kernel<T, 32><<<blocks, kThreads, 0, stream>>>(p);
    else
      scan_step_kernel<T, 64><<<blocks, kThreads, 0, stream>>>(p);
  });
  check_launch("selective scan step");
  return {y.to(in.x.scalar_type()), new_state};
}

}  // namespace hybridize::kernels::cuda
