#pragma once
// What identifies a teacher in the results store: the content hash of its
// config.json and of every tensor (name, dtype, shape, bytes), independent of
// how the checkpoint is sharded.
#include <filesystem>

#include "model/causal_lm.h"
#include "store/results_store.h"

namespace hybridize::search {

store::ModelRecord describe_model(const std::filesystem::path& directory, model::CausalLMImpl& model);

}  // namespace hybridize::search
