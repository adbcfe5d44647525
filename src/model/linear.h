#pragma once
// Parameter-holding primitives. A linear layer whose weights are created directly with the requested dtype
// and device (also "meta", to describe a 15B model without allocating it).
#include <torch/nn/module.h>

namespace hybridize::model {

class LinearImpl : public torch::nn::Module {
 public:
  LinearImpl(int64_t in_features, int64_t out_features, bool bias, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& input);

  at::Tensor weight;  // [out_features, in_features], as HF stores it
  at::Tensor bias;    // undefined when there is none
};
TORCH_MODULE(Linear);

class EmbeddingImpl : public torch::nn::Module {
 public:
  EmbeddingImpl(int64_t num_embeddings, int64_t dim, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& ids);

  at::Tensor weight;  // [num_embeddings, dim]
};
TORCH_MODULE(Embedding);

// Depthwise 1-D convolution weights as nn.Conv1d stores them ([channels, 1, width]),
// so checkpoints load by name; the convolution itself is kernels/causal_conv1d.
class DepthwiseConv1dImpl : public torch::nn::Module {
 public:
  DepthwiseConv1dImpl(int64_t channels, int64_t width, bool bias, const at::TensorOptions& options);

  at::Tensor weight;  // [channels, 1, width]
  at::Tensor bias;    // undefined when there is none
};
TORCH_MODULE(DepthwiseConv1d);

}  // namespace hybridize::model
