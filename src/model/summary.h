#pragma once
// Size figures of a model: parameters by part and by layer, KV-cache bytes.
// Works on a model built on the meta device, so a 15B model costs nothing.
#include <cstdint>
#include <vector>

#include "model/causal_lm.h"

namespace hybridize::model {

struct ParameterCounts {
  int64_t embeddings = 0, attention = 0, mamba = 0, mlp = 0, norms = 0, lm_head = 0;
  int64_t total() const { return embeddings + attention + mamba + mlp + norms + lm_head; }
};

ParameterCounts count_parameters(CausalLMImpl& model);
std::vector<int64_t> parameters_per_layer(CausalLMImpl& model);
// Bytes the KV cache grows by per generated token: K and V of every attention layer.
int64_t kv_cache_bytes_per_token(const io::TransformerConfig& config, const Layout& layout, at::ScalarType dtype);
// Bytes of recurrent state one sequence holds, whatever its length: the conv
// window (model dtype) and the fp32 SSM state of every Mamba layer.
int64_t ssm_state_bytes_per_sequence(const io::TransformerConfig& config, const Layout& layout, at::ScalarType dtype);

}  // namespace hybridize::model
