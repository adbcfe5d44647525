#include "io/checkpoint_files.h"

#include "core/error.h"
#include "core/json_file.h"
#include "core/log.h"

namespace hybridize::io {

namespace {

constexpr const char* kSingleFile = "model.safetensors";
constexpr const char* kIndexFile = "model.safetensors.index.json";

// Shard names come from the index file; a name that leaves the directory is refused.
void check_shard_name(const std::string& shard, const std::filesystem::path& index) {
  const std::filesystem::path name(shard);
  if (shard.empty() || name.is_absolute() || name.has_parent_path() || shard == "." || shard == "..")
    fail(index.string(), ": shard name '", shard, "' must be a plain file name in the same directory");
}

}  // namespace

CheckpointFiles::CheckpointFiles(const std::filesystem::path& directory) : directory_(directory) {
  if (!std::filesystem::exists(directory)) fail(directory.string(), ": no such checkpoint directory");
  if (!std::filesystem::is_directory(directory)) fail(directory.string(), ": not a directory");

  const auto index_path = directory / kIndexFile;
  const auto single_path = directory / kSingleFile;
  if (std::filesystem::exists(index_path)) {
    const nlohmann::json index = read_json_file(index_path);
    const auto map_it = index.is_object() ? index.find("weight_map") : index.end();
    if (map_it == index.end() || !map_it->is_object()) fail(index_path.string(), ": missing object 'weight_map'");
    std::map<std::string, std::shared_ptr<const SafetensorsFile>> by_shard;
    for (const auto& [tensor, shard_value] : map_it->items()) {
      if (!shard_value.is_string()) fail(index_path.string(), ": weight_map entry '", tensor, "' is not a string");
      const auto shard = shard_value.get<std::string>();
      check_shard_name(shard, index_path);
      auto& file = by_shard[shard];
      if (!file) {
        if (!std::filesystem::exists(directory / shard))
          fail(index_path.string(), ": shard '", shard, "' (holding '", tensor, "') does not exist");
        file = SafetensorsFile::open(directory / shard);
        shards_.push_back(file);
      }
      const TensorEntry* entry = file->find(tensor);
      if (entry == nullptr)
        fail(index_path.string(), ": tensor '", tensor, "' is listed in shard '", shard, "' but not stored there");
      tensors_.emplace(tensor, LocatedTensor{file, entry});
    }
    for (const auto& shard : shards_)
      for (const auto& entry : shard->entries())
        if (!tensors_.count(entry.name))
          log_warning(shard->path().string(), ": tensor '", entry.name, "' is not in ", kIndexFile, "; ignored");
  } else if (std::filesystem::exists(single_path)) {
    auto file = SafetensorsFile::open(single_path);
    shards_.push_back(file);
    for (const auto& entry : file->entries()) tensors_.emplace(entry.name, LocatedTensor{file, &entry});
  } else {
    fail(directory.string(), ": no ", kSingleFile, " or ", kIndexFile, " (only safetensors checkpoints are supported)");
  }
}

std::vector<std::string> CheckpointFiles::names() const {
  std::vector<std::string> result;
  result.reserve(tensors_.size());
  for (const auto& [name, located] : tensors_) result.push_back(name);
  return result;
}

const LocatedTensor& CheckpointFiles::locate(const std::string& name) const {
  const auto it = tensors_.find(name);
  if (it == tensors_.end()) fail(directory_.string(), ": checkpoint has no tensor '", name, "'");
  return it->second;
}

}  // namespace hybridize::io
