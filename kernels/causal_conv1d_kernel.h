#pragma once
// The Mamba mixer's short causal depthwise convolution (kernel width d_conv)
// followed by SiLU, over the whole sequence and one token at a time.
#include <ATen/ATen.h>

#include <optional>

namespace hybridize::kernels {

// x [batch, length, channels]; weight [channels, width]; bias [channels].
// out[t, c] = silu(bias[c] + sum_k weight[c, k] * x[t - width + 1 + k, c]), zeros before the start.
at::Tensor causal_conv1d_reference(const at::Tensor& x, const at::Tensor& weight,
                                   const std::optional<at::Tensor>& bias);

// The decoding state after a prefill of x: the last `width` inputs, oldest first,
// zero-padded on the left: [batch, channels, width].
at::Tensor causal_conv1d_state(const at::Tensor& x, int64_t width);

struct ConvStep {
  at::Tensor y;          // [batch, channels]
  at::Tensor new_state;  // [batch, channels, width]
};
// One token x_t [batch, channels] against the state of the previous `width` - 1 inputs.
ConvStep causal_conv1d_step_reference(const at::Tensor& state, const at::Tensor& x_t, const at::Tensor& weight,
                                      const std::optional<at::Tensor>& bias);

at::Tensor causal_conv1d(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias);
ConvStep causal_conv1d_step(const at::Tensor& state, const at::Tensor& x_t, const at::Tensor& weight,
                            const std::optional<at::Tensor>& bias);

}  // namespace hybridize::kernels
