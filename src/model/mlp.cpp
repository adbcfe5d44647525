#include "model/mlp.h"

#include "kernels/swiglu_kernel.h"

namespace hybridize::model {

MLPImpl::MLPImpl(const io::TransformerConfig& config, const at::TensorOptions& options) {
  gate_proj =
      register_module("gate_proj", Linear(config.hidden_size, config.intermediate_size, config.mlp_bias, options));
  up_proj = register_module("up_proj", Linear(config.hidden_size, config.intermediate_size, config.mlp_bias, options));
  down_proj =
      register_module("down_proj", Linear(config.intermediate_size, config.hidden_size, config.mlp_bias, options));
}

at::Tensor MLPImpl::forward(const at::Tensor& hidden) {
  return down_proj(kernels::swiglu(gate_proj(hidden), up_proj(hidden)));
}

}  // namespace hybridize::model
