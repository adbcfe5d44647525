// Causal depthwise conv1d + SiLU over channels-last input, and its decode step.
//
// Forward: one thread per (batch row, channel, segment of kSegment positions)
// slides a window of the last kMaxConvWidth inputs through its segment, so
// adjacent threads read adjacent channels and the grid covers the sequence in
// parallel; each segment re-reads only the width - 1 inputs before it.
// Weights are right-aligned into kMaxConvWidth registers (zeros in front), so
// every width up to the maximum runs the same unrolled loop.
//
// Backward: the same threads recompute the convolution's pre-activation and
// its gradient g (the SiLU's derivative times the output's) over their segment
// and the kMaxConvWidth - 1 positions after it, since x's gradient at s sums
// weight[k] * g over the positions s feeds. The weight and bias gradients sum
// over positions in registers, then over segments and batch rows with fp32 atomics.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_kernels.h"

namespace hybridize::kernels::cuda {

namespace {

constexpr int kThreads = 128;
constexpr int kSegment = 64;
constexpr int W = int(kMaxConvWidth);

struct ConvParams {
  const void* x;
  int64_t x_batch, x_length;   // strides; channels have stride 1
  const float *weight, *bias;  // [channels, width] fp32, [channels] fp32 or null
  void* out;                   // [batch, length, channels]
  int length, channels, width;
};

// Channel c's weights right-aligned into w, and the window of inputs before
// position t0: after one shift by the loop (see below), window[k] holds x[t0 - (W - 1) + k].
template <class T>
__device__ __forceinline__ void start_window(const ConvParams& p, const T* x, int c, int t0, float (&w)[W],
                                             float (&window)[W]) {
#pragma unroll
  for (int k = 0; k < W; ++k) {
    const int source = k - (W - p.width);
    w[k] = source >= 0 ? p.weight[int64_t(c) * p.width + source] : 0.f;
    // The first position shifts the window left: window[k - 1] then holds x[t], needed where w[k - 1] is.
    const int t = t0 - W + k;
    window[k] = k >= 1 && k - 1 >= W - p.width && t >= 0 ? load(x + t * p.x_length) : 0.f;
  }
}

// The pre-activation at t: shifts x[t] into the window, which then holds x[t - (W - 1) + k] at k.
template <class T>
__device__ __forceinline__ float convolve_next(const ConvParams& p, const T* x, int t, float bias, const float (&w)[W],
                                               float (&window)[W]) {
#pragma unroll
  for (int k = 0; k < W - 1; ++k) window[k] = window[k + 1];
  window[W - 1] = load(x + t * p.x_length);
  float acc = bias;
#pragma unroll
  for (int k = 0; k < W; ++k) acc += w[k] * window[k];
  return acc;
}

template <class T>
__global__ void __launch_bounds__(kThreads) conv_forward_kernel(const ConvParams p) {
  const int c = blockIdx.x * kThreads + threadIdx.x;
  if (c >= p.channels) return;
  const int b = blockIdx.z, t0 = blockIdx.y * kSegment, t_end = min(t0 + kSegment, p.length);
  const T* x = static_cast<const T*>(p.x) + b * p.x_batch + c;
  float w[W], window[W];
  start_window(p, x, c, t0, w, window);
  const float bias = p.bias ? p.bias[c] : 0.f;
  T* out = static_cast<T*>(p.out) + (int64_t(b) * p.length) * p.channels + c;
  for (int t = t0; t < t_end; ++t)
    out[int64_t(t) * p.channels] = from_float<T>(silu(convolve_next(p, x, t, bias, w, window)));
}

struct ConvBackwardParams {
  ConvParams forward;
  const void* grad_out;
  int64_t g_batch, g_length;  // strides of grad_out; channels have stride 1
  void* dx;                   // [batch, length, channels], x's element type
  float *dweight, *dbias;     // [channels, width], [channels] (or null), zeroed
};

template <class T>
__global__ void __launch_bounds__(kThreads) conv_backward_kernel(const ConvBackwardParams q) {
  const ConvParams& p = q.forward;
  const int c = blockIdx.x * kThreads + threadIdx.x;
  if (c >= p.channels) return;
  const int b = blockIdx.z, t0 = blockIdx.y * kSegment, t_end = min(t0 + kSegment, p.length);
  const T* x = static_cast<const T*>(p.x) + b * p.x_batch + c;
  const T* grad_out = static_cast<const T*>(q.grad_out) + b * q.g_batch + c;
  float w[W], window[W];
  start_window(p, x, c, t0, w, window);
  const float bias = p.bias ? p.bias[c] : 0.f;
  // pending[k] holds g at t - (W - 1) + k; positions past the end have g zero.
  float pending[W] = {}, dw[W] = {}, db = 0.f;
  T* dx = static_cast<T*>(q.dx) + (int64_t(b) * p.length) * p.channels + c;
  for (int t = t0; t < t_end + W - 1; ++t) {
    float g = 0.f;
    if (t < p.length) {
      const float pre = convolve_next(p, x, t, bias, w, window);
      const float sig = 1.f / (1.f + __expf(-pre));
      g = load(grad_out + t * q.g_length) * sig * (1.f + pre * (1.f - sig));
      if (t < t_end) {
        db += g;
#pragma unroll
        for (int k = 0; k < W; ++k) dw[k] += g * window[k];
      }
    }
#pragma unroll
    for (int k = 0; k < W - 1; ++k) pending[k] = pending[k + 1];
    pending[W - 1] = g;
    // x[s] feeds the outputs s + (W - 1) - k through w[k], and g there is pending[W - 1 - k].
    const int s = t - (W - 1);
    if (s >= t0) {
      float acc = 0.f;
#pragma unroll
      for (int k = 0; k < W; ++k) acc += w[k] * pending[W - 1 - k];
      dx[int64_t(s) * p.channels] = from_float<T>(acc);
    }
  }
#pragma unroll
  for (int k = 0; k < W; ++k) {
    const int source = k - (W - p.width);
    if (source >= 0) atomicAdd(q.dweight + int64_t(c) * p.width + source, dw[k]);
  }
  if (q.dbias) atomicAdd(q.dbias + c, db);
}

// One thread per (batch row, channel): shift the state left by one, append x_t, convolve.
template <class T>
__global__ void __launch_bounds__(kThreads)
    conv_step_kernel(const T* state, const T* x_t, const float* weight, const float* bias, T* new_state, float* y,
                     int64_t rows, int channels, int width) {
  const int64_t index = int64_t(blockIdx.x) * kThreads + threadIdx.x;
  if (index >= rows) return;
  const int c = int(index % channels);
  const T* s = state + index * width;
  T* s_new = new_state + index * width;
  const float* w = weight + int64_t(c) * width;
  float acc = bias ? bias[c] : 0.f;
  for (int k = 0; k + 1 < width; ++k) {
    const T v = s[k + 1];
    s_new[k] = v;
    acc += w[k] * to_float(v);
  }
  const T v = x_t[index];
  s_new[width - 1] = v;
  acc += w[width - 1] * to_float(v);
  y[index] = silu(acc);
}

void check_width(const at::Tensor& weight, const char* what) {
  if (weight.dim() != 2) fail(what, ": tensor 'weight' must be [channels, width]");
  if (weight.size(1) < 1 || weight.size(1) > kMaxConvWidth)
    fail(what, ": width ", weight.size(1), " is not supported (1 to ", kMaxConvWidth, ")");
}

void check_conv(const at::Tensor& x_in, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                const char* what) {
  if (x_in.dim() != 3) fail(what, ": input must be [batch, length, channels]");
  check_width(weight, what);
  const int64_t channels = x_in.size(2);
  if (weight.size(0) != channels) fail(what, ": input has ", channels, " channels but 'weight' has ", weight.size(0));
  if (bias && (bias->dim() != 1 || bias->size(0) != channels)) fail(what, ": tensor 'bias' must be [", channels, "]");
  expect_device(weight, x_in.device(), what, "weight");
  if (bias) expect_device(*bias, x_in.device(), what, "bias");
  if (x_in.size(0) > 65535) fail(what, ": batch ", x_in.size(0), " is over 65535");
}

dim3 conv_grid(int64_t batch, int64_t length, int64_t channels) {
  return dim3(unsigned((channels + kThreads - 1) / kThreads), unsigned((length + kSegment - 1) / kSegment),
              unsigned(batch));
}

}  // namespace

at::Tensor causal_conv1d_forward(const at::Tensor& x_in, const at::Tensor& weight,
                                 const std::optional<at::Tensor>& bias) {
  const char* what = "causal conv1d (CUDA)";
  check_conv(x_in, weight, bias, what);
  const int64_t batch = x_in.size(0), length = x_in.size(1), channels = x_in.size(2);
  const c10::cuda::CUDAGuard guard(x_in.device());
  const auto dtype = kernel_dtype(x_in.scalar_type()) ? x_in.scalar_type() : at::kFloat;
  const auto x = unit_last_stride(x_in.to(dtype));
  const auto w = weight.to(at::kFloat).contiguous();
  const auto b = bias ? bias->to(at::kFloat).contiguous() : at::Tensor();
  auto out = at::empty({batch, length, channels}, x.options());
  if (out.numel() == 0) return out.to(x_in.scalar_type());
  const ConvParams p{
      x.data_ptr(),   x.stride(0), x.stride(1),   w.data_ptr<float>(), b.defined() ? b.data_ptr<float>() : nullptr,
      out.data_ptr(), int(length), int(channels), int(weight.size(1))};
  dispatch_dtype(dtype, what, [&](auto tag) {
    conv_forward_kernel<decltype(tag)>
        <<<conv_grid(batch, length, channels), kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(p);
  });
  check_launch(what);
  return out.to(x_in.scalar_type());
}

ConvGradients causal_conv1d_backward(const at::Tensor& x_in, const at::Tensor& weight,
                                     const std::optional<at::Tensor>& bias, const at::Tensor& grad_out) {
  const char* what = "causal conv1d backward (CUDA)";
  check_conv(x_in, weight, bias, what);
  if (grad_out.sizes() != x_in.sizes())
    fail(what, ": the output's gradient has shape ", grad_out.sizes(), ", expected ", x_in.sizes());
  expect_device(grad_out, x_in.device(), what, "grad_out");
  const int64_t batch = x_in.size(0), length = x_in.size(1), channels = x_in.size(2);
  const c10::cuda::CUDAGuard guard(x_in.device());
  // The forward's conversions, so that the recomputed pre-activations match it.
  const auto dtype = kernel_dtype(x_in.scalar_type()) ? x_in.scalar_type() : at::kFloat;
  const auto x = unit_last_stride(x_in.to(dtype));
  const auto dout = unit_last_stride(grad_out.to(dtype));
  const auto w = weight.to(at::kFloat).contiguous();
  const auto b = bias ? bias->to(at::kFloat).contiguous() : at::Tensor();
  auto dx = at::empty({batch, length, channels}, x.options());
  auto dweight = at::zeros(w.sizes(), w.options());
  auto dbias = bias ? at::zeros({channels}, w.options()) : at::Tensor();
  if (dx.numel() > 0) {
    const ConvBackwardParams q{
        {x.data_ptr(), x.stride(0), x.stride(1), w.data_ptr<float>(), b.defined() ? b.data_ptr<float>() : nullptr,
         nullptr, int(length), int(channels), int(weight.size(1))},
        dout.data_ptr(),
        dout.stride(0),
        dout.stride(1),
        dx.data_ptr(),
        dweight.data_ptr<float>(),
        dbias.defined() ? dbias.data_ptr<float>() : nullptr};
    dispatch_dtype(dtype, what, [&](auto tag) {
      conv_backward_kernel<decltype(tag)>
          <<<conv_grid(batch, length, channels), kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(q);
    });
    check_launch(what);
  }
  return {dx.to(x_in.scalar_type()), dweight.to(weight.scalar_type()),
          bias ? dbias.to(bias->scalar_type()) : at::Tensor()};
}

ConvStep causal_conv1d_step(const at::Tensor& state_in, const at::Tensor& x_t, const at::Tensor& weight,
                            const std::optional<at::Tensor>& bias) {
  const char* what = "causal conv1d step (CUDA)";
  check_width(weight, what);
  const int64_t channels = weight.size(0), width = weight.size(1);
  if (x_t.dim() != 2 || x_t.size(1) != channels) fail(what, ": tensor 'x' must be [batch, ", channels, "]");
  const int64_t batch = x_t.size(0);
  if (state_in.dim() != 3 || state_in.size(0) != batch || state_in.size(1) != channels || state_in.size(2) != width)
    fail(what, ": tensor 'state' must be [", batch, ", ", channels, ", ", width, "]");
  if (bias && (bias->dim() != 1 || bias->size(0) != channels)) fail(what, ": tensor 'bias' must be [", channels, "]");
  expect_device(x_t, state_in.device(), what, "x");
  expect_device(weight, state_in.device(), what, "weight");
  if (bias) expect_device(*bias, state_in.device(), what, "bias");
  if (!kernel_dtype(state_in.scalar_type()))
    fail(what, ": state dtype ", c10::toString(state_in.scalar_type()), " has no CUDA kernel");
  const c10::cuda::CUDAGuard guard(state_in.device());
  // As in the reference: x_t joins the state in the state's dtype, y comes out in the weight's (and bias's) dtype.
  const auto state = state_in.contiguous();
  const auto x = x_t.to(state.scalar_type()).contiguous();
  const auto w = weight.to(at::kFloat).contiguous();
  const auto b = bias ? bias->to(at::kFloat).contiguous() : at::Tensor();
  auto new_state = at::empty_like(state);
  auto y = at::empty({batch, channels}, state.options().dtype(at::kFloat));
  const auto y_dtype = bias ? at::promote_types(weight.scalar_type(), bias->scalar_type()) : weight.scalar_type();
  const int64_t rows = batch * channels;
  if (rows == 0) return {y.to(y_dtype), new_state};
  const auto blocks = unsigned((rows + kThreads - 1) / kThreads);
  dispatch_dtype(state.scalar_type(), what, [&](auto tag) {
    using T = decltype(tag);
    conv_step_kernel<T><<<blocks, kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(
        data<T>(state), data<T>(x), w.data_ptr<float>(), b.defined() ? b.data_ptr<float>() : nullptr,
        mutable_data<T>(new_state), y.data_ptr<float>(), rows, int(channels), int(width));
  });
  check_launch(what);
  return {y.to(y_dtype), new_state};
}

}  // namespace hybridize::kernels::cuda
