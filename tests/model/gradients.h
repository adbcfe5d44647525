#pragma once
// A property every trainable model must have: a next-token loss reaches every
// parameter with a non-zero gradient.
#include <torch/torch.h>

#include "catch.h"
#include "model/causal_lm.h"

namespace hybridize::testing {

inline void require_gradient_in_every_parameter(model::CausalLM& model, const at::Tensor& ids) {
  const auto loss = torch::nn::functional::cross_entropy(model(ids).flatten(0, 1), ids.flatten());
  loss.backward();
  for (const auto& item : model->named_parameters()) {
    INFO(item.key());
    REQUIRE(item.value().grad().defined());
    CHECK(item.value().grad().abs().sum().item<double>() > 0);
  }
}

}  // namespace hybridize::testing
