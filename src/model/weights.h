#pragma once
// Loading HF-format checkpoints (config.json + safetensors) into a CausalLM.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "io/checkpoint_files.h"
#include "model/apriel_tensors.h"
#include "model/causal_lm.h"

namespace hybridize::model {

struct LoadOptions {
  at::ScalarType dtype = at::kFloat;
  at::Device device = at::kCPU;
  std::optional<Layout> layout;  // default: every layer attention
};

// Copies every parameter of `module` from the checkpoint tensor of the same
// name (an Apriel-H m2 in_proj from either layout, model/apriel_tensors.h),
// converting dtype and device. Throws Error naming the tensor when one is
// missing, has the wrong shape or holds a NaN or infinity. Returns the
// checkpoint's tensors that no parameter used (e.g. the attention weights of
// identity layers).
std::vector<std::string> load_parameters(torch::nn::Module& module, const io::CheckpointFiles& checkpoint);
// load_parameters for a resumed training run: parameters that train (require
// grad) are loaded; frozen ones may be another model's tensors (a student's
// share its teacher's), so they are compared instead, never written. Throws
// Error naming the first frozen tensor that differs from the checkpoint's.
std::vector<std::string> load_trained_parameters(torch::nn::Module& module, const io::CheckpointFiles& checkpoint);
// The same checks as load_parameters from the safetensors headers alone, copying
// nothing: works on a model built on the meta device.
std::vector<std::string> check_parameters(torch::nn::Module& module, const io::CheckpointFiles& checkpoint);

// Reads DIR/config.json and the safetensors weights, and builds the model.
CausalLM load_causal_lm(const std::filesystem::path& directory, const LoadOptions& options = {});

struct SaveOptions {
  uint64_t max_shard_bytes = 5ull << 30;
  AprielLayout apriel_layout = AprielLayout::Split;  // how hybrids store the m2 in_proj
};

// Writes `model` as an HF-style checkpoint directory: config.json and
// safetensors with HF names, split into shards of at most max_shard_bytes
// with model.safetensors.index.json when larger. All-attention models keep
// their family's format; hybrids are written as Apriel-H (apriel_hybrid_ssm).
// The directory is replaced as a whole: built beside it, then renamed over it.
void save_causal_lm(CausalLMImpl& model, const std::filesystem::path& directory, const SaveOptions& options = {});

// What save_causal_lm writes, from a config.json and named tensors (any device
// and layout), in their order.
void write_checkpoint(const nlohmann::json& config, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::filesystem::path& directory, uint64_t max_shard_bytes);

// Casts each parameter of `model` to the dtype it has in a model loaded with
// `dtype` (Mamba's A_log and D stay fp32): a trained student, fp32 where it
// trained, back in its teacher's precision. Tensors already there are untouched.
void cast_to_precision(CausalLMImpl& model, at::ScalarType dtype);

// "fp32" | "bf16" | "fp16" (also "float32", "bfloat16", "float16").
at::ScalarType parse_precision(const std::string& name);

}  // namespace hybridize::model
