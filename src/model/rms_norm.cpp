#include "model/rms_norm.h"

namespace hybridize::model {

RMSNormImpl::RMSNormImpl(int64_t dim, double eps_, const at::TensorOptions& options) : eps(eps_) {
  weight = register_parameter("weight", torch::empty({dim}, options));
}

at::Tensor RMSNormImpl::forward(const at::Tensor& input) {
  const auto x = input.to(at::kFloat);
  const auto normed = x * at::rsqrt(x.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return weight * normed.to(input.scalar_type());
}

}  // namespace hybridize::model
