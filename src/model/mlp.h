#pragma once
#include "io/hf_config.h"
#include "model/linear.h"

namespace hybridize::model {

// The SwiGLU feed-forward block: down(silu(gate(x)) * up(x)).
class MLPImpl : public torch::nn::Module {
 public:
  MLPImpl(const io::TransformerConfig& config, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& hidden);

  Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(MLP);

}  // namespace hybridize::model
