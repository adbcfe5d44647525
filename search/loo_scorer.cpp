#include "search/loo_scorer.h"

#include <torch/torch.h>

#include "core/error.h"
#include "core/spelling.h"
#include "model/mil.h"
#include "model/teacher_pass.h"
#include "train/losses.h"
#include "train/sample_metrics.h"

namespace hybridize::search {

namespace {
constexpr Spelling<Ablation> kAblations[] = {{Ablation::Mixer, "mixer"}, {Ablation::Block, "block"}};
}  // namespace

const char* ablation_name(Ablation ablation) { return spelling_of(kAblations, ablation); }

Ablation parse_ablation(const std::string& name) { return parse_spelling(kAblations, name, "--ablate"); }

BatchScores score_loo_batch(model::CausalLMImpl& model, const at::Tensor& input_ids, const at::Tensor& targets,
                            const at::Tensor& loss_mask, const std::vector<int64_t>& layers, const LooOptions& options,
                            LayerForwardCount& count, const infer::TaskAnswers* task) {
  torch::NoGradGuard no_grad;
  auto& stack = *model.model;
  const int64_t num_layers = int64_t(stack.layers.size());
  const int64_t samples = input_ids.size(0);
  std::vector<bool> keep(static_cast<std::size_t>(num_layers), false);
  for (const int64_t layer : layers) keep.at(std::size_t(layer)) = options.prefix_reuse;
  auto teacher = run_teacher(model, input_ids, keep);
  count.spent += num_layers;
  count.naive += num_layers;

  const auto tokens = train::counted_tokens(loss_mask);
  auto head = train::head_of(model);
  head.chunk_tokens = options.logit_chunk_tokens;
  const auto teacher_hidden = tokens.select(teacher.final_hidden);
  const auto token_targets = targets.flatten().index_select(0, tokens.flat_index);
  const auto teacher_nll = train::token_nll(head, teacher_hidden, token_targets);

  BatchScores scores;
  scores[-1]["nll"] = train::per_sample_mean(teacher_nll, tokens.rows, samples);
  // Whole-block ablations have no layout letter to generate with: accuracy is measured for mixers.
  const bool with_accuracy = task != nullptr && options.ablation == Ablation::Mixer;
  if (with_accuracy) scores[-1]["accuracy"] = infer::answers_correct(model, *task);
  for (const int64_t layer : layers) {
    at::Tensor hidden;
    if (options.prefix_reuse) {
      hidden = teacher.layer_inputs[std::size_t(layer)];
    } else {
      hidden = stack.run_layers(stack.embed(input_ids), 0, layer, teacher.context);
      count.spent += layer;
    }
    if (options.ablation == Ablation::Mixer) {
      hidden = stack.layers[std::size_t(layer)]->mlp_block(hidden);
      count.spent += 1;
    }
    hidden = stack.run_layers(hidden, layer + 1, num_layers, teacher.context);
    count.spent += num_layers - layer - 1;
    count.naive += num_layers;
    const auto ablated = tokens.select(stack.norm(hidden));
    const auto kl = train::token_kl(head, teacher_hidden, head, ablated, train::Divergence::ForwardKL);
    const auto nll = train::token_nll(head, ablated, token_targets);
    auto& values = scores[layer];
    values["kl"] = train::per_sample_mean(kl, tokens.rows, samples);
    values["nll_increase"] = train::per_sample_mean(nll - teacher_nll, tokens.rows, samples);
    if (with_accuracy) {
      std::string letters = model.layout.to_string();
      letters[std::size_t(layer)] = model::mixer_letter(model::MixerKind::Identity);
      auto ablated = model::derive_hybrid(model, model::Layout::parse(letters, num_layers, "LOO"), {}, 0,
                                          model::Derivation::sharing_all());
      const auto correct = infer::answers_correct(*ablated, *task);
      auto& drop = values["accuracy_drop"];
      for (std::size_t i = 0; i < correct.size(); ++i) drop.push_back(scores[-1]["accuracy"][i] - correct[i]);
    }
  }
  return scores;
}

}  // namespace hybridize::search
