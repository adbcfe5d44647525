#pragma once
// Host entry points of the CUDA kernels (kernels/cuda/*.cu), with no autograd:
// selective_scan() and causal_conv1d() wrap the forward and backward ones for
// training. Inputs must be CUDA tensors on one device.
#include <ATen/ATen.h>

#include <optional>

#include "kernels/causal_conv1d_kernel.h"
#include "kernels/logit_loss_kernel.h"
#include "kernels/rotary_kernel.h"
#include "kernels/selective_scan_kernel.h"

namespace hybridize::kernels::cuda {

// Largest d_state the scan kernels take (the forward's and the step kernel's
// registers and the backward's shared memory grow with it).
inline constexpr int64_t kMaxScanState = 64;
// Widest causal convolution the conv kernels take.
inline constexpr int64_t kMaxConvWidth = 8;

// States the forward saves for the backward: the state entering every
// `interval`-th position, [batch, chunks, channels, d_state] fp32 (chunk 0 holds
// the initial state). The backward walks the chunks from the last, recomputing
// each chunk's states from its saved start, so memory stays at length / interval states.
struct ScanCheckpoints {
  at::Tensor states;
  int64_t interval = 0;
};

// The checkpoint interval: the forward saves a state this often, and the
// backward works in chunks of this many positions (kernels/cuda/scan_chunks.cuh).
inline constexpr int64_t kScanCheckpointInterval = 64;

// With `checkpoints`, the forward also fills it for selective_scan_backward.
ScanOutputs selective_scan_forward(const ScanInputs& in, ScanCheckpoints* checkpoints = nullptr);

// Gradients of every input of `in` (undefined for absent optional ones), given
// the gradients of y and of the final state (either may be undefined: zero).
struct ScanGradients {
  at::Tensor x, delta, A, B, C, D, z, delta_bias, initial_state;
};
ScanGradients selective_scan_backward(const ScanInputs& in, const ScanCheckpoints& checkpoints,
                                      const at::Tensor& grad_y, const at::Tensor& grad_final_state);

StepOutputs selective_scan_step(const StepInputs& in);

at::Tensor causal_conv1d_forward(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias);
// Gradients of x, weight and bias (undefined without bias) of the conv and its SiLU, given the output's gradient.
struct ConvGradients {
  at::Tensor x, weight, bias;
};
ConvGradients causal_conv1d_backward(const at::Tensor& x, const at::Tensor& weight,
                                     const std::optional<at::Tensor>& bias, const at::Tensor& grad_out);
ConvStep causal_conv1d_step(const at::Tensor& state, const at::Tensor& x_t, const at::Tensor& weight,
                            const std::optional<at::Tensor>& bias);

// Per-row losses and logit gradients of one chunk (kernels/logit_loss_kernel.h).
LogitLossOutputs logit_loss(const LogitLossInputs& in);

// RMSNorm (kernels/rms_norm_kernel.h) with the per-row 1 / rms the backward needs.
struct RmsNormForward {
  at::Tensor y, rstd;  // rstd: [rows] fp32
};
RmsNormForward rms_norm_forward(const at::Tensor& x, const at::Tensor& weight, double eps, at::ScalarType out_dtype);
struct RmsNormGradients {
  at::Tensor x, weight;  // weight fp32; undefined unless asked for
};
RmsNormGradients rms_norm_backward(const at::Tensor& grad_y, const at::Tensor& x, const at::Tensor& weight,
                                   const at::Tensor& rstd, bool need_weight);

// silu(gate) * up (kernels/swiglu_kernel.h) and its gradients.
at::Tensor swiglu_forward(const at::Tensor& gate, const at::Tensor& up);
struct SwiGLUGradients {
  at::Tensor gate, up;
};
SwiGLUGradients swiglu_backward(const at::Tensor& grad, const at::Tensor& gate, const at::Tensor& up);

// The RoPE rotation (kernels/rotary_kernel.h) of x, or with `transposed` its
// transpose, which takes out's gradient to x's.
at::Tensor rotary_forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, at::ScalarType out_dtype,
                          bool transposed);

}  // namespace hybridize::kernels::cuda
