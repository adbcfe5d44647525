#include "model/apriel_tensors.h"

#include "core/error.h"
#include "core/json_file.h"
#include "io/torch_tensors.h"
#include "model/weights.h"

namespace hybridize::model {

namespace {

const std::string kInProj = "mixer.in_proj.weight";
const std::string kDtInProj = "mixer.dt_in_proj.weight";

std::string where_of(const io::LocatedTensor& located, const std::string& name) {
  return located.file->path().string() + ": tensor '" + name + "'";
}

}  // namespace

AprielLayout parse_apriel_layout(const std::string& text, const std::string& option) {
  if (text == "split") return AprielLayout::Split;
  if (text == "fused") return AprielLayout::Fused;
  fail(option, ": must be 'split' (Fast-LLM's current Apriel-H layout) or 'fused' (the earlier one), got '", text, "'");
}

std::string layout_hint(const std::string& name) {
  return name.ends_with(kInProj)
             ? " (an Apriel-H m2 in_proj holds rows [z|x|B|C|dt], or [z|x|B|C] beside " + kDtInProj + ")"
             : "";
}

std::vector<int64_t> StoredParameter::shape() const {
  auto shape = parts.front().entry->shape;
  for (std::size_t i = 1; i < parts.size(); ++i) shape[0] += parts[i].entry->shape[0];
  return shape;
}

at::Tensor StoredParameter::read() const {
  if (parts.size() == 1) return io::tensor_view(parts.front());
  std::vector<at::Tensor> views;
  for (const auto& part : parts) views.push_back(io::tensor_view(part));
  return at::cat(views, 0);
}

StoredParameter find_stored_parameter(const io::CheckpointFiles& checkpoint, const std::string& name) {
  const auto& located = checkpoint.locate(name);
  StoredParameter stored{{located}, {name}, where_of(located, name)};
  if (!name.ends_with(kInProj)) return stored;
  const std::string dt_name = name.substr(0, name.size() - kInProj.size()) + kDtInProj;
  if (!checkpoint.contains(dt_name)) return stored;
  const auto& dt = checkpoint.locate(dt_name);
  const auto& rows = located.entry->shape;
  const auto& dt_rows = dt.entry->shape;
  if (rows.size() != 2 || dt_rows.size() != 2 || rows[1] != dt_rows[1])
    fail(stored.where, " has shape ", located.entry->shape_string(), " and '", dt_name, "' ", dt.entry->shape_string(),
         ": a split in_proj needs two matrices of one width (hidden size)");
  if (located.entry->dtype != dt.entry->dtype)
    fail(stored.where, " and '", dt_name, "' have different dtypes (", io::dtype_name(located.entry->dtype), ", ",
         io::dtype_name(dt.entry->dtype), ")");
  stored.parts.push_back(dt);
  stored.names.push_back(dt_name);
  stored.where += " (with its dt_in_proj, the split layout)";
  return stored;
}

namespace {

// An m2 in_proj (all its rows, fused) under its name, in `layout`.
void add_in_proj(std::vector<std::pair<std::string, at::Tensor>>& tensors, const std::string& name,
                 const at::Tensor& fused, int64_t dt_rank, AprielLayout layout) {
  if (layout == AprielLayout::Fused) {
    tensors.emplace_back(name, fused);
    return;
  }
  const int64_t rows = fused.size(0) - dt_rank;
  tensors.emplace_back(name, fused.narrow(0, 0, rows));
  tensors.emplace_back(name.substr(0, name.size() - kInProj.size()) + kDtInProj, fused.narrow(0, rows, dt_rank));
}

}  // namespace

std::vector<std::pair<std::string, at::Tensor>> checkpoint_tensors(CausalLMImpl& model, AprielLayout layout) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& item : model.named_parameters()) {
    if (item.key().ends_with(kInProj))
      add_in_proj(tensors, item.key(), item.value(), model.config.ssm->dt_rank, layout);
    else
      tensors.emplace_back(item.key(), item.value());
  }
  return tensors;
}

void rewrite_apriel_checkpoint(const std::filesystem::path& from, const std::filesystem::path& to,
                               AprielLayout layout) {
  const auto config = io::read_transformer_config(from);
  const io::CheckpointFiles checkpoint(from);
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& name : checkpoint.names()) {
    if (name.ends_with(kDtInProj)) continue;  // read with its in_proj
    if (!name.ends_with(kInProj)) {
      tensors.emplace_back(name, io::tensor_view(checkpoint.locate(name)));
      continue;
    }
    const auto stored = find_stored_parameter(checkpoint, name);
    if (!config.ssm) fail(stored.where, " is an m2 mixer's, but ", from.string(), "/config.json has no ssm_cfg");
    const auto& ssm = *config.ssm;
    const int64_t rows = 2 * ssm.d_inner + 2 * ssm.d_xb + ssm.dt_rank;
    if (stored.shape()[0] != rows)
      fail(stored.where, " has ", stored.shape()[0], " rows but an m2 in_proj of this config has ", rows,
           " (2 d_inner + 2 d_xb + dt_rank)");
    add_in_proj(tensors, name, stored.read(), ssm.dt_rank, layout);
  }
  write_checkpoint(read_json_file(from / "config.json"), tensors, to, SaveOptions{}.max_shard_bytes);
}

}  // namespace hybridize::model
