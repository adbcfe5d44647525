#pragma once
// Opens a pre-tokenized corpus by its path, so callers need not know the format.
#include <filesystem>
#include <memory>
#include <optional>

#include "data/token_source.h"

namespace hybridize::data {

// "x.npy" -> .npy array; "x.idx", "x.bin" beside an "x.idx", or a prefix "x"
// with "x.idx" -> Megatron dataset; any other file -> raw ids of width
// `raw_dtype`, which must then be given (a raw file cannot tell its width).
std::unique_ptr<TokenSource> open_token_source(const std::filesystem::path& path,
                                               std::optional<TokenDType> raw_dtype = std::nullopt);

}  // namespace hybridize::data
