#pragma once
// The selective scan of the Mamba mixer (Mamba-1 style: a diagonal state of
// d_state entries per channel, input-dependent step sizes), and its single-token
// step used in decoding.
//
// Per channel d and state entry n, with B's group b = d / (channels / B groups)
// and C's group c likewise (B and C may have different group counts):
//   delta_t = softplus(delta_t + delta_bias)             (each optional)
//   s_t[n]  = exp(delta_t * A[d, n]) * s_{t-1}[n] + delta_t * B_t[b, n] * x_t
//   y_t     = (sum_n C_t[c, n] * s_t[n] + D[d] * x_t) * silu(z_t)   (gate optional)
// The state is kept in fp32 (double inputs stay double, for gradient checks);
// y comes back in x's dtype.
#include <ATen/ATen.h>

#include <optional>

namespace hybridize::kernels {

struct ScanInputs {
  at::Tensor x;                          // [batch, length, channels]
  at::Tensor delta;                      // [batch, length, channels], before bias and softplus
  at::Tensor A;                          // [channels, d_state], fp32 (negative: -exp(A_log))
  at::Tensor B;                          // [batch, length, B groups, d_state]
  at::Tensor C;                          // [batch, length, C groups, d_state]
  at::Tensor D;                          // [channels]
  std::optional<at::Tensor> z;           // [batch, length, channels]: gate y by silu(z)
  std::optional<at::Tensor> delta_bias;  // [channels]
  bool delta_softplus = true;
  std::optional<at::Tensor> initial_state;  // [batch, channels, d_state] fp32
};

struct ScanOutputs {
  at::Tensor y;            // [batch, length, channels]
  at::Tensor final_state;  // [batch, channels, d_state] fp32
};

// One decoding step: the inputs at one position (length dimension dropped).
struct StepInputs {
  at::Tensor state;     // [batch, channels, d_state] fp32
  at::Tensor x, delta;  // [batch, channels]
  at::Tensor A;         // [channels, d_state]
  at::Tensor B, C;      // [batch, B or C groups, d_state]
  at::Tensor D;         // [channels]
  std::optional<at::Tensor> z;
  std::optional<at::Tensor> delta_bias;
  bool delta_softplus = true;
};

struct StepOutputs {
  at::Tensor y;          // [batch, channels]
  at::Tensor new_state;  // [batch, channels, d_state] fp32
};

// Validates shapes; throws Error naming the offending tensor.
void check_scan_inputs(const ScanInputs& in);

// Ground truth in plain LibTorch ops (differentiable through autograd), any device.
ScanOutputs selective_scan_reference(const ScanInputs& in);
StepOutputs selective_scan_step_reference(const StepInputs& in);

// What the model calls: the fastest implementation for the inputs' device.
ScanOutputs selective_scan(const ScanInputs& in);
StepOutputs selective_scan_step(const StepInputs& in);

}  // namespace hybridize::kernels
