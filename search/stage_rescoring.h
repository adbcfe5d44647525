#pragma once
// Re-ranking before a later stage of the paper's schedule: the attention layers
// the previous stage's student still has are probed (MMR) against that student,
// and the stage replaces those whose probes came closest to it, rather than the
// next layers of the order scored once on the teacher.
#include <cstdint>
#include <set>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/causal_lm.h"
#include "search/mmr_probe.h"
#include "train/sequence_set.h"

namespace hybridize::search {

struct StageRescoring {
  std::vector<int64_t> new_layers;  // ascending
  model::Layout layout;             // the parent's, with new_layers as Mamba
  nlohmann::json probes;            // {"layer": mean distill_loss} of every probed layer
};

// Probes every attention layer of `parent` not in `keep` and picks the `count`
// with the lowest mean held-out distill_loss (ties: the lower layer). The
// parent's weights are not changed.
StageRescoring rescore_stage(model::CausalLMImpl& parent, int64_t count, const std::set<int64_t>& keep,
                             const train::SequenceSet& train_set, const train::SequenceSet& eval_set,
                             const MmrOptions& options);

}  // namespace hybridize::search
