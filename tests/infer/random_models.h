#pragma once
// Small models with seeded random weights for the generation tests: no
// checkpoint needed, any shape and attention window wanted.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "io/hf_config.h"
#include "model/causal_lm.h"
#include "model/mil.h"

namespace hybridize::testing {

// A 4-layer Llama, 4 heads of 8 over 2 KV heads, vocabulary 61. `extra` adds
// config.json keys (e.g. sliding windows).
inline io::TransformerConfig small_config(const nlohmann::json& extra = nlohmann::json::object()) {
  nlohmann::json j = {{"model_type", "llama"},
                      {"vocab_size", 61},
                      {"hidden_size", 32},
                      {"intermediate_size", 48},
                      {"num_hidden_layers", 4},
                      {"num_attention_heads", 4},
                      {"num_key_value_heads", 2},
                      {"rope_theta", 10000.0},
                      {"max_position_embeddings", 256},
                      {"rms_norm_eps", 1e-5},
                      {"tie_word_embeddings", false}};
  j.update(extra);
  return io::parse_transformer_config(j, "small test model");
}

// Weights N(0, 1/fan_in) (embeddings N(0, 1), norms near 1), drawn from `seed`.
inline model::CausalLM random_model(const io::TransformerConfig& config, at::ScalarType dtype = at::kDouble,
                                    uint64_t seed = 1) {
  model::CausalLM m(config, model::Layout::all_attention(config.num_layers), at::TensorOptions().dtype(dtype));
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  torch::NoGradGuard no_grad;
  for (auto& item : m->named_parameters()) {
    auto& p = item.value();
    const auto noise = at::randn(p.sizes(), generator, at::kDouble);
    if (item.key().find("norm") != std::string::npos)
      p.copy_(1 + 0.1 * noise);
    else if (item.key().find("embed_tokens") != std::string::npos)
      p.copy_(noise);
    else
      p.copy_(noise / std::sqrt(double(p.size(-1))));
  }
  return m;
}

// `layout` built from `teacher` by MIL (d_state 8), as a distillation stage would.
inline model::CausalLM random_hybrid(model::CausalLMImpl& teacher, const std::string& layout, uint64_t seed = 2) {
  return model::derive_hybrid(teacher, model::Layout::parse(layout, teacher.config.num_layers, "test"),
                              model::mil_ssm_config(teacher.config, /*d_state=*/8), seed);
}

inline at::Tensor ids_tensor(const std::vector<int64_t>& ids) {
  return at::tensor(ids, at::kLong).view({1, static_cast<int64_t>(ids.size())});
}

}  // namespace hybridize::testing
