#include "model/layer_checkpoint.h"

#include <ATen/autocast_mode.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/functions/utils.h>
#include <torch/csrc/autograd/saved_variable.h>
#include <torch/torch.h>

#include "model/autocast_region.h"

namespace hybridize::model {

namespace {

using torch::autograd::variable_list;

// The backward node of a checkpointed layer. Its next edges are the layer's
// input, then its parameters that require grad, in that order.
class RecomputeLayer : public torch::autograd::Node {
 public:
  RecomputeLayer(DecoderLayer layer, const at::Tensor& input, const MixerContext& context,
                 std::vector<at::Tensor> parameters)
      : layer_(std::move(layer)),
        input_(input, /*is_output=*/false),
        cos_(context.cos),
        sin_(context.sin),
        length_(context.sequence_length),
        device_(context.device),
        autocast_(AutocastState::current(input.device().type())),
        parameters_(std::move(parameters)) {}

  std::string name() const override { return "RecomputeLayer"; }

  variable_list apply(variable_list&& grad_outputs) override {
    variable_list grads(num_outputs());
    if (!grad_outputs[0].defined()) return grads;
    const at::AutoGradMode enable_grad(true);
    const AutocastRegion autocast(device_.type(), autocast_);
    // Leaves of the recomputed graph: a detached input and the parameters themselves.
    const auto input = input_.unpack().detach().requires_grad_(task_should_compute_output(0));
    variable_list wanted;
    std::vector<std::size_t> slots;
    if (task_should_compute_output(0)) {
      wanted.push_back(input);
      slots.push_back(0);
    }
    for (std::size_t i = 0; i < parameters_.size(); ++i)
      if (task_should_compute_output(i + 1)) {
        wanted.push_back(parameters_[i]);
        slots.push_back(i + 1);
      }
    if (wanted.empty()) return grads;
    MixerContext context(cos_, sin_, length_, device_);
    const auto output = layer_->forward(input, context);
    const auto computed = torch::autograd::grad({output}, wanted, {grad_outputs[0]}, /*retain_graph=*/false,
                                                /*create_graph=*/false, /*allow_unused=*/true);
    for (std::size_t k = 0; k < slots.size(); ++k) grads[slots[k]] = computed[k];
    return grads;
  }

  void release_variables() override { input_.reset_data(); }

 private:
  DecoderLayer layer_;
  torch::autograd::SavedVariable input_;
  at::Tensor cos_, sin_;
  int64_t length_;
  at::Device device_;
  AutocastState autocast_;
  std::vector<at::Tensor> parameters_;
};

// Turns autocast's cache of casted weights off for a scope: a cast cached
// without grad would, if the weight were used again in the same autocast
// region with grad, carry no gradient back to it.
class NoAutocastCache {
 public:
  NoAutocastCache() : previous_(at::autocast::is_autocast_cache_enabled()) {
    at::autocast::set_autocast_cache_enabled(false);
  }
  ~NoAutocastCache() { at::autocast::set_autocast_cache_enabled(previous_); }
  NoAutocastCache(const NoAutocastCache&) = delete;
  NoAutocastCache& operator=(const NoAutocastCache&) = delete;

 private:
  bool previous_;
};

}  // namespace

at::Tensor checkpointed_layer_forward(const DecoderLayer& layer, const at::Tensor& hidden, MixerContext& context) {
  std::vector<at::Tensor> trained;
  for (const auto& parameter : layer->parameters())
    if (parameter.requires_grad()) trained.push_back(parameter);
  auto& impl = *layer.ptr();
  if (!at::GradMode::is_enabled() || (!hidden.requires_grad() && trained.empty())) return impl.forward(hidden, context);
  at::Tensor output;
  {
    const at::NoGradGuard no_grad;
    const NoAutocastCache no_cache;
    output = impl.forward(hidden, context);
  }
  const std::shared_ptr<RecomputeLayer> node(new RecomputeLayer(layer, hidden, context, trained),
                                             torch::autograd::deleteNode);
  node->set_next_edges(torch::autograd::collect_next_edges(hidden, trained));
  torch::autograd::set_history(output, node);
  return output;
}

}  // namespace hybridize::model
