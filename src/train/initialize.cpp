#include "train/initialize.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "model/mamba.h"

namespace hybridize::train {

void initialize_weights(model::CausalLMImpl& model, uint64_t seed, double std) {
  torch::NoGradGuard no_grad;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  // Drawn on the CPU in fp32 and copied, so every device and dtype gets the same values.
  for (auto& item : model.named_parameters()) {
    auto& parameter = item.value();
    const auto& name = item.key();
    if (name.find(".mixer.") != std::string::npos) continue;  // Mamba: below
    if (name.ends_with("norm.weight"))
      parameter.fill_(1.0);
    else if (name.ends_with(".bias"))
      parameter.zero_();
    else
      parameter.copy_(at::empty(parameter.sizes(), at::kFloat).normal_(0.0, std, generator));
  }
  for (size_t layer = 0; layer < model.model->layers.size(); ++layer)
    if (auto* mamba = dynamic_cast<model::Mamba*>(model.model->layers[layer]->mixer.get()))
      mamba->reset_parameters(seed + 1 + layer);
}

}  // namespace hybridize::train
