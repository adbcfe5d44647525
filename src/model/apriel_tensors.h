#pragma once
// How Apriel-H checkpoints store the m2 mixer's input projection, and the
// parameters of a model as checkpoint tensors in either layout:
//   split (Fast-LLM's format since mid-2025, the default we write):
//     mixer.in_proj.weight [2 d_inner + 2 d_xb, hidden], rows [z | x | B | C],
//     mixer.dt_in_proj.weight [dt_rank, hidden]
//   fused (the earlier releases):
//     mixer.in_proj.weight [2 d_inner + 2 d_xb + dt_rank, hidden], rows [z | x | B | C | dt]
// The model keeps the fused matrix (one GEMM); only checkpoints differ.
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "io/checkpoint_files.h"
#include "model/causal_lm.h"

namespace hybridize::model {

enum class AprielLayout { Split, Fused };

// "split" | "fused"; throws naming `option` otherwise.
AprielLayout parse_apriel_layout(const std::string& text, const std::string& option);

// Where a parameter's values lie in a checkpoint: one tensor, or an m2
// in_proj stored split, read back as its rows and dt_in_proj's rows stacked.
struct StoredParameter {
  std::vector<io::LocatedTensor> parts;  // stacked along dim 0
  std::vector<std::string> names;
  std::string where;  // "<file>: tensor '<name>'" (and its dt_in_proj)

  std::vector<int64_t> shape() const;
  at::Tensor read() const;  // a CPU tensor in the checkpoint's dtype
};

// For a shape error about checkpoint tensor `name`: what the two layouts hold
// when it is an m2 in_proj ("" otherwise).
std::string layout_hint(const std::string& name);

// Throws Error naming the tensor when the checkpoint has neither layout of it,
// or when the two parts of a split in_proj disagree in width or dtype.
StoredParameter find_stored_parameter(const io::CheckpointFiles& checkpoint, const std::string& name);

// `model`'s parameters under their checkpoint names, m2 in_proj matrices
// written in `layout` (views, no copies).
std::vector<std::pair<std::string, at::Tensor>> checkpoint_tensors(CausalLMImpl& model, AprielLayout layout);

// Writes the checkpoint in `from` to `to` with its m2 in_proj matrices in
// `layout`, every tensor's bits and dtype kept; config.json as it is.
void rewrite_apriel_checkpoint(const std::filesystem::path& from, const std::filesystem::path& to, AprielLayout layout);

}  // namespace hybridize::model
