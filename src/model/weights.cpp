#include "model/weights.h"

#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/file_tree.h"
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
// Calls `use(parameter, stored)` for each parameter with its checkpoint
// tensor(s), after checking that the two agree; returns the checkpoint tensors
// left over.
template <class Use>
std::vector<std::string> match_parameters(torch::nn::Module& module, const io::CheckpointFiles& checkpoint, Use&& use) {
  std::set<std::string> used;
  for (auto& item : module.named_parameters()) {
    const std::string& name = item.key();
    at::Tensor& parameter = item.value();
    const auto stored = find_stored_parameter(checkpoint, name);
    const auto shape = stored.shape();
    if (!at::IntArrayRef(shape).equals(parameter.sizes()))
      fail(stored.where, " has shape ", shape_string(shape), " but the model config needs ",
           shape_string(parameter.sizes()), layout_hint(name));
    const auto dtype = stored.parts.front().entry->dtype;
    if (!at::isFloatingType(io::to_scalar_type(dtype)))
      fail(stored.where, " has dtype ", io::dtype_name(dtype), " where a floating-point weight is needed");
    use(parameter, stored);
    used.insert(stored.names.begin(), stored.names.end());
  }
  std::vector<std::string> unused;
  for (const auto& name : checkpoint.names())
    if (!used.count(name)) unused.push_back(name);
  return unused;
}
}  // namespace

std::vector<std::string> check_parameters(torch::nn::Module& module, const io::CheckpointFiles& checkpoint) {
  return match_parameters(module, checkpoint, [](at::Tensor&, const StoredParameter&) {});
}

std::vector<std::string> load_parameters(torch::nn::Module& module, const io::CheckpointFiles& checkpoint) {
  torch::NoGradGuard no_grad;
  return match_parameters(module, checkpoint, [](at::Tensor& parameter, const StoredParameter& stored) {
    parameter.copy_(stored.read());
    // A NaN weight would score, train and ship as NaN results; no checkpoint should hold one.
    if (!parameter.isfinite().all().item<bool>()) fail(stored.where, " holds NaN or infinite values");
  });
}

std::vector<std::string> load_trained_parameters(torch::nn::Module& module, const io::CheckpointFiles& checkpoint) {
  torch::NoGradGuard no_grad;
  return match_parameters(module, checkpoint, [](at::Tensor& parameter, const StoredParameter& stored) {
    const auto saved = stored.read();
    if (parameter.requires_grad()) {
      parameter.copy_(saved);
    } else if (!at::equal(parameter, saved.to(parameter.device(), parameter.scalar_type()))) {
      fail(stored.where, " is frozen but differs from the model's: the checkpoint was made from another parent model");
    }
  });
}

void cast_to_precision(CausalLMImpl& model, at::ScalarType dtype) {
  // A twin on the meta device knows each parameter's dtype and costs no memory.
  CausalLM twin(model.config, model.layout, at::TensorOptions().dtype(dtype).device(at::kMeta));
  const auto wanted = twin->named_parameters();
  torch::NoGradGuard no_grad;
  for (auto& item : model.named_parameters()) {
    const auto target = wanted[item.key()].scalar_type();
    if (item.value().scalar_type() != target) item.value().set_data(item.value().to(target));
  }
}

CausalLM load_causal_lm(const std::filesystem::path& directory, const LoadOptions& options) {
  auto config = io::read_transformer_config(directory);
  const io::CheckpointFiles checkpoint(directory);
  auto layout = options.layout.value_or(Layout::saved_in(config));
  CausalLM model(config, layout, at::TensorOptions().dtype(options.dtype).device(options.device));
  const auto unused = load_parameters(*model, checkpoint);
  // Identity layers leave their attention weights behind on purpose; anything else is worth a word.
  for (const auto& name : unused) {
    const bool dropped_by_layout =
        name.find(".self_attn.") != std::string::npos || name.find(".input_layernorm.") != std::string::npos;
    if (!dropped_by_layout || layout.count(MixerKind::Identity) == 0)
      log_warning(directory.string(), ": checkpoint tensor '", name, "' is not used by the model");
  }
  model->eval();
  return model;
}

namespace {
std::string shard_name(std::size_t index, std::size_t count) {
  char name[64];
  std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", index + 1, count);
  return name;
}
}  // namespace

void save_causal_lm(CausalLMImpl& model, const std::filesystem::path& directory, const SaveOptions& options) {
  auto config = model.config;
  const bool hybrid =
      model.layout.count(MixerKind::Attention) != model.layout.size() || !config.hybrid_block_layout.empty();
  config.hybrid_block_layout = hybrid ? model.layout.block_types() : std::vector<std::string>{};
  write_checkpoint(io::to_hf_json(config), checkpoint_tensors(model, options.apriel_layout), directory,
                   options.max_shard_bytes);
}

void write_checkpoint(const nlohmann::json& config, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::filesystem::path& directory, uint64_t max_shard_bytes) {
  // Group tensors into shards in their order.
  std::vector<std::vector<std::pair<std::string, at::Tensor>>> shards(1);
  uint64_t shard_bytes = 0, total_bytes = 0;
  for (const auto& [name, value] : tensors) {
    const uint64_t bytes = value.nbytes();
    if (shard_bytes > 0 && shard_bytes + bytes > max_shard_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().emplace_back(name, value);
    shard_bytes += bytes;
    total_bytes += bytes;
  }

  auto partial = directory;
  partial += ".partial";
  remove_tree(partial);
  make_directories(partial);
  write_file_atomically(partial / "config.json", config.dump(2) + "\n");
  const std::map<std::string, std::string> metadata = {{"format", "pt"}};
  if (shards.size() == 1) {
    io::save_tensors(partial / "model.safetensors", shards.front(), metadata);
  } else {
    nlohmann::json weight_map = nlohmann::json::object();
    for (std::size_t i = 0; i < shards.size(); ++i) {
      const auto name = shard_name(i, shards.size());
      io::save_tensors(partial / name, shards[i], metadata);
      for (const auto& [tensor, value] : shards[i]) weight_map[tensor] = name;
    }
    const nlohmann::json index = {{"metadata", {{"total_size", total_bytes}}}, {"weight_map", weight_map}};
    write_file_atomically(partial / "model.safetensors.index.json", index.dump(2) + "\n");
  }
  // Swap the finished directory in; an interruption leaves the old one or the new one.
  auto old = directory;
  old += ".old";
  remove_tree(old);
  if (std::filesystem::exists(directory)) std::filesystem::rename(directory, old);
  std::filesystem::rename(partial, directory);
  remove_tree(old);
}

at::ScalarType parse_precision(const std::string& name) {
  if (name == "fp32" || name == "float32") return at::kFloat;
  if (name == "bf16" || name == "bfloat16") return at::kBFloat16;
  if (name == "fp16" || name == "float16") return at::kHalf;
  fail("unknown precision '", name, "' (expected fp32, bf16 or fp16)");
}

}  // namespace hybridize::model
