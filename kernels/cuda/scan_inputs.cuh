#pragma once
// The scan's inputs as the forward and backward kernels read them: the
// streamed tensors (x, delta, z, B, C) in one element type with unit stride
// along their last dimension, the per-channel ones (A, D, delta_bias) and the
// initial state contiguous fp32. Both directions must convert alike, since the
// backward recomputes the forward's states from the same values.
#include <algorithm>

#include "kernels/cuda/common.cuh"
#include "kernels/selective_scan_kernel.h"

namespace hybridize::kernels::cuda {

struct StreamedScan {
  at::ScalarType dtype;  // element type of x, delta, z, B and C
  at::Tensor x, delta, z, B, C;
  at::Tensor A, D, bias, init;  // fp32; bias and init undefined when absent
};

// `in` has passed check_scan_inputs.
inline StreamedScan stream_scan_inputs(const ScanInputs& in, const char* what) {
  const int64_t N = in.A.size(1);
  if (N < 1 || N > kMaxScanState) fail(what, ": d_state ", N, " is not supported (1 to ", kMaxScanState, ")");
  const auto device = in.x.device();
  for (const auto& [t, name] : {std::pair{&in.delta, "delta"}, std::pair{&in.A, "A"}, std::pair{&in.B, "B"},
                                std::pair{&in.C, "C"}, std::pair{&in.D, "D"}})
    expect_device(*t, device, what, name);
  if (in.z) expect_device(*in.z, device, what, "z");
  if (in.delta_bias) expect_device(*in.delta_bias, device, what, "delta_bias");
  if (in.initial_state) expect_device(*in.initial_state, device, what, "initial_state");

  StreamedScan s;
  // One element type for the streamed tensors: theirs when they agree, else fp32 (exact widening).
  s.dtype = in.x.scalar_type();
  const bool uniform = in.delta.scalar_type() == s.dtype && in.B.scalar_type() == s.dtype &&
                       in.C.scalar_type() == s.dtype && (!in.z || in.z->scalar_type() == s.dtype);
  if (!uniform || !kernel_dtype(s.dtype)) s.dtype = at::kFloat;
  const auto stream_in = [&](const at::Tensor& t) { return unit_last_stride(t.to(s.dtype)); };
  s.x = stream_in(in.x);
  s.delta = stream_in(in.delta);
  if (in.z) s.z = stream_in(*in.z);
  // B and C rows of one position: groups * d_state contiguous elements.
  const auto grouped = [&](const at::Tensor& t) {
    auto u = t.to(s.dtype);
    return u.stride(3) == 1 && u.stride(2) == N ? u : u.contiguous();
  };
  s.B = grouped(in.B);
  s.C = grouped(in.C);
  const auto fp32 = [](const at::Tensor& t) { return t.to(at::kFloat).contiguous(); };
  s.A = fp32(in.A);
  s.D = fp32(in.D);
  if (in.delta_bias) s.bias = fp32(*in.delta_bias);
  if (in.initial_state) s.init = fp32(*in.initial_state);
  return s;
}

inline const float* data_or_null(const at::Tensor& t) { return t.defined() ? t.data_ptr<float>() : nullptr; }

// Whether every [batch, position] row of a streamed tensor starts 16-byte
// aligned, so that a kernel may copy its rows in 16-byte pieces.
inline bool rows_aligned16(const at::Tensor& t) {
  const int64_t elem = t.element_size();
  return data_aligned16(t) && (t.stride(0) * elem) % 16 == 0 && (t.stride(1) * elem) % 16 == 0;
}

struct Strides {
  int64_t batch, length;
};

// What both kernels read of StreamedScan: device pointers, the batch and
// position strides of the streamed tensors, and the sizes.
struct ScanOperands {
  const void *x, *delta, *z, *B, *C;
  Strides xs, ds, zs, Bs, Cs;
  const float *A, *D, *bias;
  int length, channels, d_state, b_groups, c_groups, b_width, c_width;  // widths: channels per group
  bool softplus;
};

inline ScanOperands scan_operands(const StreamedScan& s, bool softplus) {
  ScanOperands o{};
  const auto strides = [](const at::Tensor& t) { return Strides{t.stride(0), t.stride(1)}; };
  o.x = s.x.data_ptr();
  o.delta = s.delta.data_ptr();
  o.B = s.B.data_ptr();
  o.C = s.C.data_ptr();
  o.xs = strides(s.x);
  o.ds = strides(s.delta);
  o.Bs = strides(s.B);
  o.Cs = strides(s.C);
  if (s.z.defined()) {
    o.z = s.z.data_ptr();
    o.zs = strides(s.z);
  }
  o.A = s.A.data_ptr<float>();
  o.D = s.D.data_ptr<float>();
  o.bias = data_or_null(s.bias);
  o.length = int(s.x.size(1));
  o.channels = int(s.x.size(2));
  o.d_state = int(s.A.size(1));
  o.b_groups = int(s.B.size(2));
  o.c_groups = int(s.C.size(2));
  o.b_width = o.channels / o.b_groups;
  o.c_width = o.channels / o.c_groups;
  o.softplus = softplus;
  return o;
}

}  // namespace hybridize::kernels::cuda
