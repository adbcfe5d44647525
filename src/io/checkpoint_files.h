#pragma once
// The tensors of an HF checkpoint directory: a single model.safetensors, or
// shards listed by model.safetensors.index.json ({"weight_map": {tensor: shard}}).
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/safetensors.h"

namespace hybridize::io {

struct LocatedTensor {
  std::shared_ptr<const SafetensorsFile> file;
  const TensorEntry* entry;
};

class CheckpointFiles {
 public:
  // Opens and validates every shard; throws Error naming the directory, shard or tensor.
  explicit CheckpointFiles(const std::filesystem::path& directory);

  const std::filesystem::path& directory() const { return directory_; }
  std::size_t shard_count() const { return shards_.size(); }
  std::vector<std::string> names() const;  // sorted
  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  const LocatedTensor& locate(const std::string& name) const;  // throws naming the tensor

 private:
  std::filesystem::path directory_;
  std::vector<std::shared_ptr<const SafetensorsFile>> shards_;
  std::map<std::string, LocatedTensor> tensors_;
};

}  // namespace hybridize::io
