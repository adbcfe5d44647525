#include "model/rms_norm.h"

#include "kernels/rms_norm_kernel.h"
#include "model/autocast_region.h"

namespace hybridize::model {

RMSNormImpl::RMSNormImpl(int64_t dim, double eps_, const at::TensorOptions& options) : eps(eps_) {
  weight = register_parameter("weight", torch::empty({dim}, options));
}

at::Tensor RMSNormImpl::forward(const at::Tensor& input) {
  // Every consumer of a norm's output is a projection (or the loss's head).
  const auto out_dtype =
      consumed_dtype(input.device().type(), at::promote_types(input.scalar_type(), weight.scalar_type()));
  return kernels::rms_norm(input, weight, eps, out_dtype);
}

}  // namespace hybridize::model
