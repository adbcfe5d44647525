#pragma once
// Checkpoints of a training run, so that it resumes bit-identically:
//   ROOT/step-000120/model/      the weights (model::save_causal_lm)
//   ROOT/step-000120/optimizer.pt AdamW moments and step counters
//   ROOT/step-000120/state.json  the run's own state (data position, settings)
//   ROOT/latest                  "step-000120": the newest complete checkpoint
// A checkpoint is built in a hidden ".partial" directory, fsynced and renamed
// into place before `latest` is rewritten (atomically) to name it; a reader
// follows `latest` only, so a half-written checkpoint is never picked up.
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "model/causal_lm.h"
#include "train/optimizer.h"

namespace hybridize::train {

class CheckpointDirectory {
 public:
  explicit CheckpointDirectory(std::filesystem::path root);
  const std::filesystem::path& root() const { return root_; }

  // The checkpoint `latest` names; nothing when the run has none yet. Throws
  // Error when `latest` names a checkpoint that is not there.
  std::optional<std::filesystem::path> latest() const;

  // Writes the checkpoint of step `step` (the optimizer's state() as
  // `optimizer_state`), points `latest` at it, then removes older checkpoints
  // and leftovers of interrupted writes. In a data-parallel run rank 0 alone
  // calls it, after every rank took part in state().
  std::filesystem::path save(int64_t step, model::CausalLMImpl& model, const std::string& optimizer_state,
                             const nlohmann::json& state) const;

  // Loads a checkpoint's weights into `model` and its moments into `optimizer`
  // (both built as when it was saved); returns its state.json. Frozen weights
  // are checked against it, not written (they may be the teacher's own).
  static nlohmann::json restore(const std::filesystem::path& checkpoint, model::CausalLMImpl& model,
                                Optimizer& optimizer);

 private:
  std::filesystem::path root_;
};

}  // namespace hybridize::train
