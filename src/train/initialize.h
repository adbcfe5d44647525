#pragma once
// Fresh weights for a model trained from scratch (the demo teacher).
#include <cstdint>

#include "model/causal_lm.h"

namespace hybridize::train {

// Llama's initialisation: projections and embeddings N(0, std), norms 1,
// biases 0; Mamba mixers as a fresh m2 mixer. Drawn from `seed` alone, so the
// same seed gives bit-identical weights.
void initialize_weights(model::CausalLMImpl& model, uint64_t seed, double std = 0.02);

}  // namespace hybridize::train
