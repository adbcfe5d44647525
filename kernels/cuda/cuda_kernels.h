#pragma once
// Host entry points of the CUDA kernels (kernels/cuda/*.cu). They compute
// forward values only, with no autograd; selective_scan() and causal_conv1d()
// wrap them for training. Inputs must be CUDA tensors on one device.
#include <ATen/ATen.h>

#include <optional>

#include "kernels/causal_conv1d.h"
#include "kernels/selective_scan.h"

namespace hybridize::kernels::cuda {

// Largest d_state the scan kernels are instantiated for.
inline constexpr int64_t kMaxScanState = 64;
// Widest causal convolution the conv kernels take.
inline constexpr int64_t kMaxConvWidth = 8;

ScanOutputs selective_scan_forward(const ScanInputs& in);
StepOutputs selective_scan_step(const StepInputs& in);

at::Tensor causal_conv1d_forward(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias);
ConvStep causal_conv1d_step(const at::Tensor& state, const at::Tensor& x_t, const at::Tensor& weight,
                            const std::optional<at::Tensor>& bias);

}  // namespace hybridize::kernels::cuda
