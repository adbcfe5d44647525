#include "infer/sampling.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/detail/CUDAHooksInterface.h>

namespace hybridize::infer {

at::Generator make_generator(uint64_t seed, at::Device device) {
  auto generator = device.is_cuda() ? at::detail::getCUDAHooks().getNewGenerator(device.index())
                                    : at::make_generator<at::CPUGeneratorImpl>(seed);
  generator.set_current_seed(seed);
  return generator;
}

at::Tensor sample_next_tokens(const at::Tensor& logits, double temperature, double top_p, at::Generator& generator) {
  if (temperature == 0) return logits.argmax(-1);
  auto probabilities = at::softmax(logits.to(at::kFloat) / temperature, -1);
  if (top_p < 1) {
    auto [sorted, order] = probabilities.sort(-1, /*descending=*/true);
    const auto mass_before = sorted.cumsum(-1) - sorted;
    sorted.masked_fill_(mass_before.ge(top_p), 0);
    probabilities = at::zeros_like(probabilities).scatter_(-1, order, sorted);
  }
  return at::multinomial(probabilities, 1, /*replacement=*/false, generator).squeeze(1);
}

}  // namespace hybridize::infer
