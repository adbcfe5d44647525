#include "model/linear.h"

namespace hybridize::model {

LinearImpl::LinearImpl(int64_t in_features, int64_t out_features, bool has_bias, const at::TensorOptions& options) {
  weight = register_parameter("weight", torch::empty({out_features, in_features}, options));
  if (has_bias) bias = register_parameter("bias", torch::empty({out_features}, options));
}

at::Tensor LinearImpl::forward(const at::Tensor& input) { return at::linear(input, weight, bias); }

EmbeddingImpl::EmbeddingImpl(int64_t num_embeddings, int64_t dim, const at::TensorOptions& options) {
  weight = register_parameter("weight", torch::empty({num_embeddings, dim}, options));
}

at::Tensor EmbeddingImpl::forward(const at::Tensor& ids) { return at::embedding(weight, ids); }

DepthwiseConv1dImpl::DepthwiseConv1dImpl(int64_t channels, int64_t width, bool has_bias, const at::TensorOptions& options) {
  weight = register_parameter("weight", torch::empty({channels, 1, width}, options));
  if (has_bias) bias = register_parameter("bias", torch::empty({channels}, options));
}

}  // namespace hybridize::model
