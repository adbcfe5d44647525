#include "search/proxy_scorer.h"

#include <torch/torch.h>

#include "model/teacher_pass.h"
#include "train/sample_metrics.h"

namespace hybridize::search {

namespace {
at::Tensor one_minus_cosine(const at::Tensor& a, const at::Tensor& b) {
  return 1.0 - at::cosine_similarity(a.to(at::kFloat), b.to(at::kFloat), /*dim=*/-1);
}
}  // namespace

BatchScores score_proxy_batch(model::CausalLMImpl& model, const at::Tensor& input_ids, const at::Tensor& loss_mask,
                              const std::vector<int64_t>& layers) {
  torch::NoGradGuard no_grad;
  auto& stack = *model.model;
  const int64_t samples = input_ids.size(0);
  const auto tokens = train::counted_tokens(loss_mask);
  std::vector<bool> wanted(stack.layers.size(), false);
  for (const int64_t layer : layers) wanted.at(std::size_t(layer)) = true;

  BatchScores scores;
  auto hidden = stack.embed(input_ids);
  auto context = stack.context(input_ids.size(1), hidden.scalar_type(), input_ids.device());
  for (std::size_t i = 0; i < stack.layers.size(); ++i) {
    auto& layer = stack.layers[i];
    const auto after_mixer = layer->mixer_block(hidden, context);
    const auto out = layer->mlp_block(after_mixer);
    if (wanted[i]) {
      const auto in = tokens.select(hidden), mid = tokens.select(after_mixer);
      auto& values = scores[int64_t(i)];
      values["block_influence"] =
          train::per_sample_mean(one_minus_cosine(in, tokens.select(out)), tokens.rows, samples);
      values["attention_influence"] = train::per_sample_mean(one_minus_cosine(in, mid), tokens.rows, samples);
      const auto ratio = (mid - in).to(at::kFloat).norm(2, -1) / in.to(at::kFloat).norm(2, -1).clamp_min(1e-12);
      values["attention_norm_ratio"] = train::per_sample_mean(ratio, tokens.rows, samples);
    }
    hidden = out;
  }
  return scores;
}

}  // namespace hybridize::search
