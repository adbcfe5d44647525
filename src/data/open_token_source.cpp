#include "data/open_token_source.h"

#include "core/error.h"
#include "data/megatron_dataset.h"
#include "data/megatron_format.h"
#include "data/npy_tokens.h"
#include "data/raw_tokens.h"

namespace hybridize::data {

std::unique_ptr<TokenSource> open_token_source(const std::filesystem::path& path, std::optional<TokenDType> raw_dtype) {
  const auto extension = path.extension();
  if (extension == ".npy") return std::make_unique<NpyTokens>(path);
  if (extension == ".idx") return std::make_unique<MegatronDataset>(std::filesystem::path(path).replace_extension());
  if (extension == ".bin") {
    const auto prefix = std::filesystem::path(path).replace_extension();
    if (std::filesystem::exists(megatron::idx_path(prefix))) return std::make_unique<MegatronDataset>(prefix);
  }
  if (std::filesystem::exists(megatron::idx_path(path))) return std::make_unique<MegatronDataset>(path);
  if (!raw_dtype)
    fail(path.string(),
         ": not a .npy file and no Megatron index beside it; for raw token ids give their width "
         "(uint16 or uint32)");
  return std::make_unique<RawTokens>(path, *raw_dtype);
}

}  // namespace hybridize::data
