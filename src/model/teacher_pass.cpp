#include "model/teacher_pass.h"

#include <torch/torch.h>

namespace hybridize::model {

TeacherPass run_teacher(CausalLMImpl& model, const at::Tensor& input_ids, const std::vector<bool>& keep) {
  torch::NoGradGuard no_grad;
  auto& stack = *model.model;
  auto hidden = stack.embed(input_ids);
  TeacherPass pass{stack.context(input_ids.size(1), hidden.scalar_type(), input_ids.device()), {}, {}};
  const int64_t layers = int64_t(stack.layers.size());
  pass.layer_inputs.resize(std::size_t(layers));
  for (int64_t i = 0; i < layers; ++i) {
    if (keep.at(std::size_t(i))) pass.layer_inputs[std::size_t(i)] = hidden;
    hidden = stack.run_layers(hidden, i, i + 1, pass.context);
  }
  pass.final_hidden = stack.norm(hidden);
  return pass;
}

}  // namespace hybridize::model
