#pragma once
#include <torch/nn/module.h>

namespace hybridize::model {

// RMSNorm as Llama-family models compute it: normalise in fp32, cast back,
// then scale (the order matters for bf16 parity with HF); kernels/rms_norm_kernel.h.
// Under autocast the output is in the autocast dtype.
class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& input);

  at::Tensor weight;
  double eps;
};
TORCH_MODULE(RMSNorm);

}  // namespace hybridize::model
