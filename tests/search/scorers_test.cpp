// Layer scorers against references: each LOO ablation against the same model
// loaded with that layer removed, prefix reuse against recomputation, proxies
// against hidden states taken by hand.
#include <torch/torch.h>

#include "data/synthetic_vocabulary.h"
#include "model/reference_models.h"
#include "model/weights.h"
#include "search/loo_scorer.h"
#include "search/proxy_scorer.h"
#include "train/sequence_set.h"

using namespace hybridize;
using hybridize::testing::reference_model;

namespace {
struct Fixture {
  std::filesystem::path dir = reference_model("llama");  // 3 layers, vocab 96
  model::CausalLM teacher = model::load_causal_lm(dir);
  train::SequenceSet data;
  Fixture() {
    data::SequenceSpec spec;
    spec.samples = 5;
    data = train::load_sequences(spec, teacher->config.vocab_size);
  }
};

// Per-sample masked means of per-token values [B, T].
std::vector<double> masked_means(const at::Tensor& values, const at::Tensor& mask) {
  const auto sums = (values * mask).sum(1).to(at::kDouble), counts = mask.sum(1).to(at::kDouble);
  const auto means = (sums / counts).contiguous();
  return {means.data_ptr<double>(), means.data_ptr<double>() + means.numel()};
}

std::vector<double> reference_kl(const at::Tensor& teacher_logits, const at::Tensor& ablated_logits,
                                 const at::Tensor& mask) {
  const auto p = at::log_softmax(teacher_logits.to(at::kDouble), -1),
             q = at::log_softmax(ablated_logits.to(at::kDouble), -1);
  return masked_means((p.exp() * (p - q)).sum(-1), mask);
}

std::vector<double> reference_nll(const at::Tensor& logits, const at::Tensor& targets, const at::Tensor& mask) {
  const auto logp = at::log_softmax(logits.to(at::kDouble), -1);
  return masked_means(-logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1), mask);
}

void check_close(const std::vector<double>& actual, const std::vector<double>& expected) {
  REQUIRE(actual.size() == expected.size());
  for (std::size_t i = 0; i < actual.size(); ++i) {
    INFO("sample " << i);
    CHECK(actual[i] == Approx(expected[i]).epsilon(1e-4).margin(1e-6));
  }
}
}  // namespace

TEST_CASE("the synthetic evaluation set counts exactly the completion's tokens", "[search]") {
  data::SequenceSpec spec;
  spec.samples = 4;
  const auto set = train::load_sequences(spec, 96);
  REQUIRE(set.size() == 4);
  for (int64_t row = 0; row < 4; ++row) {
    const auto targets = set.targets[row].masked_select(set.loss_mask[row]).contiguous();
    const auto text = data::synthetic::decode({targets.data_ptr<int64_t>(), std::size_t(targets.numel())});
    const auto prompt = data::synthetic::decode(set.prompts[std::size_t(row)]);
    CHECK(text.back() == data::synthetic::kEos);
    CHECK(text.find("#" + set.answers[std::size_t(row)] + "$") != std::string::npos);
    CHECK(prompt.back() == data::synthetic::kTraceSeparator);
  }
  REQUIRE_ERROR(train::load_sequences(spec, 20), "smaller than the synthetic task's");
  spec.split = "dev";
  REQUIRE_ERROR(train::load_sequences(spec, 96), "--split: 'dev'");
}

TEST_CASE("LOO of a layer equals the KL and NLL of the model loaded without that layer's attention", "[search]") {
  Fixture f;
  torch::NoGradGuard no_grad;
  search::LayerForwardCount count;
  const auto scores =
      search::score_loo_batch(*f.teacher, f.data.input_ids, f.data.targets, f.data.loss_mask, {0, 1, 2}, {}, count);
  const auto teacher_logits = f.teacher->forward(f.data.input_ids);
  const auto teacher_nll = reference_nll(teacher_logits, f.data.targets, f.data.loss_mask);
  check_close(scores.at(-1).at("nll"), teacher_nll);
  for (int64_t layer = 0; layer < 3; ++layer) {
    INFO("layer " << layer);
    std::string letters = "AAA";
    letters[std::size_t(layer)] = 'I';
    model::LoadOptions load;
    load.layout = model::Layout::parse(letters, 3, "test");
    auto ablated = model::load_causal_lm(f.dir, load);
    const auto logits = ablated->forward(f.data.input_ids);
    check_close(scores.at(layer).at("kl"), reference_kl(teacher_logits, logits, f.data.loss_mask));
    auto increase = reference_nll(logits, f.data.targets, f.data.loss_mask);
    for (std::size_t i = 0; i < increase.size(); ++i) increase[i] -= teacher_nll[i];
    check_close(scores.at(layer).at("nll_increase"), increase);
    for (const double kl : scores.at(layer).at("kl")) CHECK(kl > 1e-6);  // removing attention changes the model
  }
}

TEST_CASE("whole-block LOO equals running the layers around the skipped one", "[search]") {
  Fixture f;
  torch::NoGradGuard no_grad;
  search::LayerForwardCount count;
  search::LooOptions options;
  options.ablation = search::Ablation::Block;
  const auto scores =
      search::score_loo_batch(*f.teacher, f.data.input_ids, f.data.targets, f.data.loss_mask, {1}, options, count);
  auto& stack = *f.teacher->model;
  auto context = stack.context(f.data.input_ids.size(1), at::kFloat, at::kCPU);
  auto hidden = stack.run_layers(stack.embed(f.data.input_ids), 0, 1, context);
  hidden = stack.run_layers(hidden, 2, 3, context);
  const auto logits = f.teacher->lm_head(stack.norm(hidden));
  check_close(scores.at(1).at("kl"), reference_kl(f.teacher->forward(f.data.input_ids), logits, f.data.loss_mask));
  // Teacher (3) + layers 2 only: the skipped block costs nothing.
  CHECK(count.spent == 3 + 1);
  CHECK(count.naive == 3 + 3);
}

TEST_CASE("prefix reuse gives the values of recomputation with fewer layer forwards", "[search]") {
  Fixture f;
  search::LayerForwardCount reused, recomputed;
  search::LooOptions naive;
  naive.prefix_reuse = false;
  const std::vector<int64_t> layers{0, 1, 2};
  const auto fast =
      search::score_loo_batch(*f.teacher, f.data.input_ids, f.data.targets, f.data.loss_mask, layers, {}, reused);
  const auto slow = search::score_loo_batch(*f.teacher, f.data.input_ids, f.data.targets, f.data.loss_mask, layers,
                                            naive, recomputed);
  for (const int64_t layer : layers) {
    check_close(fast.at(layer).at("kl"), slow.at(layer).at("kl"));
    check_close(fast.at(layer).at("nll_increase"), slow.at(layer).at("nll_increase"));
  }
  // L = 3: the teacher's 3, then 3 - i layers for ablation i; naively 3 + 3 per ablation.
  CHECK(reused.spent == 3 + (3 + 2 + 1));
  CHECK(recomputed.spent == 3 + 3 * 3);
  CHECK(reused.naive == recomputed.spent);
  // For the 50 layers of the 15B teacher the same count is (L + 3) / (2 (L + 1)) = 52% of naive.
  const double L = 50;
  CHECK((L + L * (L + 1) / 2) / (L + L * L) <= 0.55);
}

TEST_CASE("proxies equal the cosines of the hidden states around each layer", "[search]") {
  Fixture f;
  torch::NoGradGuard no_grad;
  const auto scores = search::score_proxy_batch(*f.teacher, f.data.input_ids, f.data.loss_mask, {0, 2});
  REQUIRE(scores.size() == 2);
  auto& stack = *f.teacher->model;
  auto context = stack.context(f.data.input_ids.size(1), at::kFloat, at::kCPU);
  const auto embedded = stack.embed(f.data.input_ids);
  for (const int64_t layer : {0, 2}) {
    const auto in = stack.run_layers(embedded, 0, layer, context);
    const auto out = stack.run_layers(in, layer, layer + 1, context);
    const auto mid = stack.layers[std::size_t(layer)]->mixer_block(in, context);
    check_close(scores.at(layer).at("block_influence"),
                masked_means(1 - at::cosine_similarity(in, out, -1), f.data.loss_mask));
    check_close(scores.at(layer).at("attention_influence"),
                masked_means(1 - at::cosine_similarity(in, mid, -1), f.data.loss_mask));
    check_close(scores.at(layer).at("attention_norm_ratio"),
                masked_means((mid - in).norm(2, -1) / in.norm(2, -1), f.data.loss_mask));
  }
}

TEST_CASE("LOO accuracy drop is the teacher's exact-match answers minus the ablated model's", "[search]") {
  const auto dir = std::filesystem::path(HYBRIDIZE_SOURCE_DIR) / "configs" / "demo-teacher";
  auto teacher = model::load_causal_lm(dir);
  data::SequenceSpec spec;
  spec.samples = 24;
  const auto data = train::load_sequences(spec, teacher->config.vocab_size);
  infer::TaskAnswers task{data.prompts, data.answers, data.loss_mask.sum(1).max().item<int64_t>() + 2};
  search::LayerForwardCount count;
  const auto scores =
      search::score_loo_batch(*teacher, data.input_ids, data.targets, data.loss_mask, {0, 2}, {}, count, &task);
  const auto& teacher_correct = scores.at(-1).at("accuracy");
  double teacher_accuracy = 0;
  for (const double value : teacher_correct) teacher_accuracy += value / 24;
  // The demo teacher writes its own traces right almost always (configs/demo-teacher/README.md).
  CHECK(teacher_accuracy > 0.9);
  for (const int64_t layer : {0, 2}) {
    const int64_t layers = teacher->config.num_layers;
    std::string letters(static_cast<std::size_t>(layers), 'A');
    letters[std::size_t(layer)] = 'I';
    model::LoadOptions load;
    load.layout = model::Layout::parse(letters, layers, "test");
    auto ablated = model::load_causal_lm(dir, load);
    const auto correct = infer::answers_correct(*ablated, task);
    const auto& drop = scores.at(layer).at("accuracy_drop");
    REQUIRE(drop.size() == 24);
    for (std::size_t i = 0; i < 24; ++i) CHECK(drop[i] == teacher_correct[i] - correct[i]);
  }
  double layer0_drop = 0;
  for (const double value : scores.at(0).at("accuracy_drop")) layer0_drop += value / 24;
  CHECK(layer0_drop > 0.25);  // without layer 0's attention it solves (almost) nothing
}
