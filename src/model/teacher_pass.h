#pragma once
// One forward pass of the teacher that keeps the residual stream entering
// chosen layers, so that work on a layer can start there instead of at the
// embeddings (prefix reuse: the layers below are unchanged by the ablation).
#include <cstdint>
#include <vector>

#include "model/causal_lm.h"

namespace hybridize::model {

struct TeacherPass {
  MixerContext context;
  std::vector<at::Tensor> layer_inputs;  // [L]: the stream entering layer i, kept where asked, else undefined
  at::Tensor final_hidden;               // [B, T, hidden], final-normed
};

// `keep[i]`: keep the stream entering layer i. Runs without gradients.
TeacherPass run_teacher(CausalLMImpl& model, const at::Tensor& input_ids, const std::vector<bool>& keep);

}  // namespace hybridize::model
