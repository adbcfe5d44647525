#pragma once
// The backward of the CUDA kernels' autograd functions until backward kernels
// exist: rerun the LibTorch-ops reference on detached copies of the saved
// inputs under autograd and differentiate that. Correct, as slow as the reference.
#include <torch/autograd.h>

#include <vector>

namespace hybridize::kernels {

// The saved tensors are the forward's tensor arguments in order, undefined for
// absent optional ones (which make no autograd edge). `reference(leaves)`
// returns the outputs that `grad_outputs` seed. The result holds one gradient
// per saved tensor, then `non_tensor_arguments` undefined ones.
template <class Reference>
torch::autograd::variable_list recompute_gradients(torch::autograd::AutogradContext* ctx,
                                                   const torch::autograd::variable_list& grad_outputs,
                                                   std::size_t non_tensor_arguments, Reference&& reference) {
  using torch::autograd::variable_list;
  const auto saved = ctx->get_saved_variables();
  variable_list grads(saved.size() + non_tensor_arguments);
  const at::AutoGradMode enable_grad(true);
  variable_list leaves(saved.size()), wanted;
  std::vector<std::size_t> wanted_index;
  for (std::size_t i = 0, edge = 0; i < saved.size(); ++i) {
    if (!saved[i].defined()) continue;
    leaves[i] = saved[i].detach();
    if (ctx->needs_input_grad(edge++)) {
      leaves[i].requires_grad_(true);
      wanted.push_back(leaves[i]);
      wanted_index.push_back(i);
    }
  }
  if (wanted.empty()) return grads;
  const variable_list recomputed = reference(leaves);
  variable_list outputs, seeds;
  for (std::size_t k = 0; k < recomputed.size(); ++k)
    if (grad_outputs[k].defined()) {
      outputs.push_back(recomputed[k]);
      seeds.push_back(grad_outputs[k]);
    }
  if (outputs.empty()) return grads;
  const auto computed = torch::autograd::grad(outputs, wanted, seeds, /*retain_graph=*/false,
                                              /*create_graph=*/false, /*allow_unused=*/true);
  for (std::size_t k = 0; k < wanted.size(); ++k) grads[wanted_index[k]] = computed[k];
  return grads;
}

}  // namespace hybridize::kernels
