#include "model/weights.h"

#include <set>
#include <sstream>

#include "core/error.h"
#include "core/log.h"
#include "io/torch_tensors.h"

namespace hybridize::model {

namespace {
std::string shape_string(at::IntArrayRef sizes) {
  std::ostringstream text;
  text << sizes;
  return text.str();
}
}  // namespace

namespace {
// Calls `use(parameter, source)` for each parameter with its checkpoint tensor,
// after checking that the two agree; returns the checkpoint tensors left over.
template <class Use>
std::vector<std::string> match_parameters(torch::nn::Module& module, const io::CheckpointFiles& checkpoint, Use&& use) {
  std::set<std::string> used;
  for (auto& item : module.named_parameters()) {
    const std::string& name = item.key();
    at::Tensor& parameter = item.value();
    const auto& located = checkpoint.locate(name);
    const auto& entry = *located.entry;
    const std::string where = located.file->path().string() + ": tensor '" + name + "'";
    if (!at::IntArrayRef(entry.shape).equals(parameter.sizes()))
      fail(where, " has shape ", entry.shape_string(), " but the model config needs ", shape_string(parameter.sizes()));
    if (!at::isFloatingType(io::to_scalar_type(entry.dtype)))
      fail(where, " has dtype ", io::dtype_name(entry.dtype), " where a floating-point weight is needed");
    use(parameter, located);
    used.insert(name);
  }
  std::vector<std::string> unused;
  for (const auto& name : checkpoint.names())
    if (!used.count(name)) unused.push_back(name);
  return unused;
}
}  // namespace

std::vector<std::string> check_parameters(torch::nn::Module& module, const io::CheckpointFiles& checkpoint) {
  return match_parameters(module, checkpoint, [](at::Tensor&, const io::LocatedTensor&) {});
}

std::vector<std::string> load_parameters(torch::nn::Module& module, const io::CheckpointFiles& checkpoint) {
  torch::NoGradGuard no_grad;
  return match_parameters(module, checkpoint, [](at::Tensor& parameter, const io::LocatedTensor& located) {
    parameter.copy_(io::tensor_view(located));
  });
}

CausalLM load_causal_lm(const std::filesystem::path& directory, const LoadOptions& options) {
  auto config = io::read_transformer_config(directory);
  const io::CheckpointFiles checkpoint(directory);
  auto layout = options.layout.value_or(Layout::all_attention(config.num_layers));
  CausalLM model(config, layout, at::TensorOptions().dtype(options.dtype).device(options.device));
  const auto unused = load_parameters(*model, checkpoint);
  // Identity layers leave their attention weights behind on purpose; anything else is worth a word.
  for (const auto& name : unused) {
    const bool dropped_by_layout = name.find(".self_attn.") != std::string::npos || name.find(".input_layernorm.") != std::string::npos;
    if (!dropped_by_layout || layout.count(MixerKind::Identity) == 0)
      log_warning(directory.string(), ": checkpoint tensor '", name, "' is not used by the model");
  }
  model->eval();
  return model;
}

at::ScalarType parse_precision(const std::string& name) {
  if (name == "fp32" || name == "float32") return at::kFloat;
  if (name == "bf16" || name == "bfloat16") return at::kBFloat16;
  if (name == "fp16" || name == "float16") return at::kHalf;
  fail("unknown precision '", name, "' (expected fp32, bf16 or fp16)");
}

}  // namespace hybridize::model
