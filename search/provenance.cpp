#include "search/provenance.h"

#include "core/hashing.h"
#include "core/mapped_file.h"
#include "io/checkpoint_files.h"

namespace hybridize::search {

store::ModelRecord describe_model(const std::filesystem::path& directory, model::CausalLMImpl& model) {
  ContentHasher hasher;
  {
    const MappedFile config(directory / "config.json");
    hasher.update(config.bytes().data(), config.size());
  }
  const io::CheckpointFiles checkpoint(directory);
  for (const auto& name : checkpoint.names()) {
    const auto& located = checkpoint.locate(name);
    const auto bytes = located.file->bytes(*located.entry);
    hasher.update(name);
    hasher.update(io::dtype_name(located.entry->dtype));
    hasher.update(located.entry->shape_string());
    hasher.update(bytes.data(), bytes.size());
  }
  int64_t parameters = 0;
  for (const auto& parameter : model.parameters()) parameters += parameter.numel();
  return {std::filesystem::absolute(directory).lexically_normal().string(), hasher.hex_digest(),
          model.config.architecture, model.config.num_layers, parameters};
}

}  // namespace hybridize::search
