#pragma once
// Leave-one-out (LOO) ablations: how much worse the model gets when one
// layer's attention (or its whole block) is removed. Per sample:
//   kl            KL(teacher || ablated) of the next-token distributions
//   nll_increase  NLL of the targets under the ablated model minus the teacher's
//   accuracy_drop the teacher's exact-match answer (1 or 0, greedy generation)
//                 minus the ablated model's, when the data has answers and the
//                 attention alone is removed
#include <cstdint>
#include <vector>

#include "infer/task_accuracy.h"
#include "model/causal_lm.h"
#include "search/layer_scores.h"

namespace hybridize::search {

enum class Ablation {
  Mixer,  // the layer's attention becomes identity; its MLP stays (layout letter I)
  Block,  // the whole decoder layer is skipped
};
const char* ablation_name(Ablation ablation);  // "mixer" | "block"
Ablation parse_ablation(const std::string& name);

// Layer forwards spent, against one full forward per ablation (plus the teacher's).
struct LayerForwardCount {
  int64_t spent = 0;
  int64_t naive = 0;
};

struct LooOptions {
  Ablation ablation = Ablation::Mixer;
  // Start each ablation from the teacher's stream entering its layer, rather
  // than from the embeddings. Off only to measure what reuse saves.
  bool prefix_reuse = true;
  int64_t logit_chunk_tokens = 1024;
};

// Scores `layers` on one batch. The teacher's own per-sample NLL (and
// answer accuracy, with `task`) goes under layer -1 as "nll" ("accuracy").
BatchScores score_loo_batch(model::CausalLMImpl& model, const at::Tensor& input_ids, const at::Tensor& targets,
                            const at::Tensor& loss_mask, const std::vector<int64_t>& layers, const LooOptions& options,
                            LayerForwardCount& count, const infer::TaskAnswers* task = nullptr);

}  // namespace hybridize::search
