#include "model/linear.h"

#include <torch/autograd.h>

#include "model/autocast_region.h"

namespace hybridize::model {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// A linear layer under CUDA autocast with fp32 master weights: the product
// runs in the autocast dtype as autocast would run it, but the weight's
// gradient comes out of cuBLAS in fp32 (mm with an fp32 out_dtype), where
// autocast's cast would hand back a product rounded to bf16 and then a pass
// to widen it: fp32 accumulation kept, one pass over every weight saved.
struct AutocastLinear : torch::autograd::Function<AutocastLinear> {
  // Without a bias, `bias` is an empty placeholder (custom Functions take no undefined inputs).
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& input, const at::Tensor& weight,
                            const at::Tensor& bias, at::ScalarType dtype) {
    const auto x = input.to(dtype), w = weight.to(dtype);
    ctx->save_for_backward({x, w});
    ctx->saved_data["bias_dtype"] = bias.scalar_type();
    return at::linear(x, w, bias.numel() > 0 ? bias.to(dtype) : at::Tensor());
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &w = saved[1];
    const auto grad = grad_outputs[0].to(w.scalar_type());
    const auto rows = grad.reshape({-1, grad.size(-1)});
    at::Tensor grad_input, grad_weight, grad_bias;
    if (ctx->needs_input_grad(0)) grad_input = at::matmul(grad, w);
    if (ctx->needs_input_grad(1)) grad_weight = at::mm(rows.t(), x.reshape({-1, x.size(-1)}), at::kFloat);
    if (ctx->needs_input_grad(2))
      grad_bias = rows.sum(0, /*keepdim=*/false, at::kFloat).to(ctx->saved_data["bias_dtype"].toScalarType());
    return {grad_input, grad_weight, grad_bias, at::Tensor()};
  }
};

}  // namespace

LinearImpl::LinearImpl(int64_t in_features, int64_t out_features, bool has_bias, const at::TensorOptions& options) {
  weight = register_parameter("weight", torch::empty({out_features, in_features}, options));
  if (has_bias) bias = register_parameter("bias", torch::empty({out_features}, options));
}

at::Tensor LinearImpl::forward(const at::Tensor& input) {
  if (input.is_cuda() && weight.scalar_type() == at::kFloat && weight.requires_grad() && at::GradMode::is_enabled()) {
    const auto autocast = AutocastState::current(at::kCUDA);
    if (autocast.enabled)
      return AutocastLinear::apply(input, weight, bias.defined() ? bias : at::empty({0}, weight.options()),
                                   autocast.dtype);
  }
  return at::linear(input, weight, bias);
}

EmbeddingImpl::EmbeddingImpl(int64_t num_embeddings, int64_t dim, const at::TensorOptions& options) {
  weight = register_parameter("weight", torch::empty({num_embeddings, dim}, options));
}

at::Tensor EmbeddingImpl::forward(const at::Tensor& ids) { return at::embedding(weight, ids); }

DepthwiseConv1dImpl::DepthwiseConv1dImpl(int64_t channels, int64_t width, bool has_bias,
                                         const at::TensorOptions& options) {
  weight = register_parameter("weight", torch::empty({channels, 1, width}, options));
  if (has_bias) bias = register_parameter("bias", torch::empty({channels}, options));
}

}  // namespace hybridize::model
