// The chunked losses against the same values computed on full logits with
// plain LibTorch (kl_div, cross_entropy) and plain autograd.
#include <torch/torch.h>

#include "catch.h"
#include "train/losses.h"

using namespace hybridize;
using train::Divergence;
using train::LogitHead;

namespace {
constexpr int64_t kTokens = 10, kHidden = 8, kVocab = 13;

struct Inputs {
  at::Tensor teacher_hidden, teacher_weight, student_hidden, student_weight, targets, mask;
};

Inputs random_inputs(uint64_t seed, int64_t vocab = kVocab, const at::Device& device = at::kCPU) {
  torch::manual_seed(seed);
  Inputs in;
  in.teacher_hidden = torch::randn({kTokens, kHidden});
  in.teacher_weight = torch::randn({vocab, kHidden});
  in.student_hidden = torch::randn({kTokens, kHidden});
  in.student_weight = torch::randn({vocab, kHidden});
  in.targets = torch::randint(vocab, {kTokens}, torch::kLong);
  in.mask = torch::rand({kTokens}) > 0.3;
  in.mask[0] = true;
  for (auto* t :
       {&in.teacher_hidden, &in.teacher_weight, &in.student_hidden, &in.student_weight, &in.targets, &in.mask})
    *t = t->to(device);
  return in;
}

// Per-token KL on full [N, vocab] logits through torch's kl_div.
at::Tensor reference_kl(const Inputs& in, const at::Tensor& student_hidden, const at::Tensor& student_weight,
                        Divergence kind, double temperature) {
  const auto log_teacher = torch::log_softmax(at::linear(in.teacher_hidden, in.teacher_weight) / temperature, -1);
  const auto log_student = torch::log_softmax(at::linear(student_hidden, student_weight) / temperature, -1);
  namespace F = torch::nn::functional;
  const auto options = F::KLDivFuncOptions().reduction(torch::kNone).log_target(true);
  // kl_div(input, target) = sum target_p * (log target - input): KL(target || input).
  return kind == Divergence::ReverseKL ? F::kl_div(log_teacher, log_student, options).sum(-1)
                                       : F::kl_div(log_student, log_teacher, options).sum(-1);
}

at::Tensor reference_nll(const Inputs& in, const at::Tensor& hidden, const at::Tensor& weight) {
  namespace F = torch::nn::functional;
  return F::cross_entropy(at::linear(hidden, weight), in.targets, F::CrossEntropyFuncOptions().reduction(torch::kNone));
}

at::Tensor masked_mean(const at::Tensor& values, const at::Tensor& mask) { return values.masked_select(mask).mean(); }
}  // namespace

TEST_CASE("per-token KL, NLL and argmax equal the full-logits values at every chunk size", "[train][losses]") {
  const auto in = random_inputs(1);
  for (const int64_t chunk : {1, 3, 7, 10, 1024}) {
    for (const double temperature : {1.0, 2.5}) {
      for (const auto kind : {Divergence::ReverseKL, Divergence::ForwardKL}) {
        INFO("chunk " << chunk << " temperature " << temperature << " reverse " << (kind == Divergence::ReverseKL));
        const auto kl = train::token_kl({in.teacher_weight, chunk}, in.teacher_hidden, {in.student_weight, chunk},
                                        in.student_hidden, kind, temperature);
        REQUIRE(kl.sizes() == at::IntArrayRef({kTokens}));
        CHECK(kl.scalar_type() == at::kFloat);
        CHECK(
            torch::allclose(kl, reference_kl(in, in.student_hidden, in.student_weight, kind, temperature), 1e-5, 1e-6));
        CHECK(kl.min().item<double>() >= 0);
      }
    }
    INFO("chunk " << chunk);
    const auto nll = train::token_nll({in.student_weight, chunk}, in.student_hidden, in.targets);
    CHECK(torch::allclose(nll, reference_nll(in, in.student_hidden, in.student_weight), 1e-5, 1e-6));
    const auto argmax = train::token_argmax({in.student_weight, chunk}, in.student_hidden);
    CHECK(torch::equal(argmax, at::linear(in.student_hidden, in.student_weight).argmax(-1)));
  }
  // Reverse and forward KL are different divergences on these inputs.
  const auto reverse = train::token_kl({in.teacher_weight}, in.teacher_hidden, {in.student_weight}, in.student_hidden,
                                       Divergence::ReverseKL);
  const auto forward = train::token_kl({in.teacher_weight}, in.teacher_hidden, {in.student_weight}, in.student_hidden,
                                       Divergence::ForwardKL);
  CHECK((reverse - forward).abs().max().item<double>() > 1e-3);
}

TEST_CASE("KL of a model against itself is zero", "[train][losses]") {
  const auto in = random_inputs(2);
  for (const auto kind : {Divergence::ReverseKL, Divergence::ForwardKL}) {
    const auto kl = train::token_kl({in.student_weight, 3}, in.student_hidden, {in.student_weight, 3},
                                    in.student_hidden, kind, 1.7);
    CHECK(kl.abs().max().item<double>() < 1e-6);
    const auto loss = train::distillation_loss({in.student_weight, 3}, in.student_hidden, {in.student_weight, 3},
                                               in.student_hidden, in.mask, kind);
    CHECK(std::abs(loss.item<double>()) < 1e-6);
  }
}

namespace {
// bf16 hidden states with an fp32 head (as under autocast) against fp32 throughout.
void check_bf16_against_fp32(const Inputs& in) {
  const auto hidden = in.student_hidden.to(at::kBFloat16).requires_grad_(true);
  const auto weight = in.student_weight.clone().requires_grad_(true);
  const auto loss = train::distillation_loss({in.teacher_weight, 3}, in.teacher_hidden.to(at::kBFloat16), {weight, 3},
                                             hidden, in.mask, Divergence::ReverseKL);
  loss.backward();
  CHECK(loss.scalar_type() == at::kFloat);
  CHECK(hidden.grad().scalar_type() == at::kBFloat16);
  CHECK(weight.grad().scalar_type() == at::kFloat);

  const auto ref_hidden = in.student_hidden.clone().requires_grad_(true);
  const auto ref_weight = in.student_weight.clone().requires_grad_(true);
  const auto reference = masked_mean(reference_kl(in, ref_hidden, ref_weight, Divergence::ReverseKL, 1.0), in.mask);
  reference.backward();
  CHECK(loss.item<double>() == Approx(reference.item<double>()).epsilon(3e-2));
  const auto relative = [](const at::Tensor& a, const at::Tensor& b) {
    return ((a.to(at::kFloat) - b).norm() / b.norm()).item<double>();
  };
  CHECK(relative(hidden.grad(), ref_hidden.grad()) < 3e-2);
  CHECK(relative(weight.grad(), ref_weight.grad()) < 3e-2);
}

}  // namespace

TEST_CASE("bf16 hidden states with an fp32 head (as under autocast) match fp32 to bf16 precision", "[train][losses]") {
  check_bf16_against_fp32(random_inputs(6));
}

namespace {
// The chunked losses and gradients of `in` at several chunk sizes, against autograd through full logits.
void check_against_full_logits(const Inputs& in) {
  for (const int64_t chunk : {1, 4, 1024}) {
    for (const double temperature : {1.0, 2.0}) {
      for (const auto kind : {Divergence::ReverseKL, Divergence::ForwardKL}) {
        INFO("chunk " << chunk << " temperature " << temperature << " reverse " << (kind == Divergence::ReverseKL));
        const auto hidden = in.student_hidden.clone().requires_grad_(true);
        const auto weight = in.student_weight.clone().requires_grad_(true);
        const auto teacher_hidden = in.teacher_hidden.clone().requires_grad_(true);
        const auto loss = train::distillation_loss({in.teacher_weight, chunk}, teacher_hidden, {weight, chunk}, hidden,
                                                   in.mask, kind, temperature);
        loss.backward();

        const auto ref_hidden = in.student_hidden.clone().requires_grad_(true);
        const auto ref_weight = in.student_weight.clone().requires_grad_(true);
        const auto reference = masked_mean(reference_kl(in, ref_hidden, ref_weight, kind, temperature), in.mask);
        reference.backward();
        CHECK(loss.item<double>() == Approx(reference.item<double>()).epsilon(1e-5));
        CHECK(torch::allclose(hidden.grad(), ref_hidden.grad(), 1e-4, 1e-6));
        CHECK(torch::allclose(weight.grad(), ref_weight.grad(), 1e-4, 1e-6));
        // Unmasked tokens get no gradient; the teacher gets none at all.
        CHECK(hidden.grad().index({in.mask.logical_not()}).abs().max().item<double>() == 0);
        CHECK((!teacher_hidden.grad().defined() || teacher_hidden.grad().abs().max().item<double>() == 0));
      }
    }
    INFO("cross-entropy, chunk " << chunk);
    const auto hidden = in.student_hidden.clone().requires_grad_(true);
    const auto weight = in.student_weight.clone().requires_grad_(true);
    const auto loss = train::cross_entropy_loss({weight, chunk}, hidden, in.targets, in.mask);
    loss.backward();
    const auto ref_hidden = in.student_hidden.clone().requires_grad_(true);
    const auto ref_weight = in.student_weight.clone().requires_grad_(true);
    const auto reference = masked_mean(reference_nll(in, ref_hidden, ref_weight), in.mask);
    reference.backward();
    CHECK(loss.item<double>() == Approx(reference.item<double>()).epsilon(1e-5));
    CHECK(torch::allclose(hidden.grad(), ref_hidden.grad(), 1e-4, 1e-6));
    CHECK(torch::allclose(weight.grad(), ref_weight.grad(), 1e-4, 1e-6));
  }
}

}  // namespace

TEST_CASE("chunked training losses and their gradients equal autograd through full logits", "[train][losses]") {
  check_against_full_logits(random_inputs(3));
}

TEST_CASE("on CUDA, the chunked losses and gradients equal autograd through full logits", "[cuda][train][losses]") {
  REQUIRE(torch::cuda::is_available());
  // A vocabulary the fused kernel reads element by element, and one it reads in 16-byte vectors.
  check_against_full_logits(random_inputs(3, kVocab, at::kCUDA));
  check_against_full_logits(random_inputs(4, 4096, at::kCUDA));
  check_bf16_against_fp32(random_inputs(6, 4096, at::kCUDA));
}

TEST_CASE("a frozen student head gets no gradient and an empty mask gives a zero loss", "[train][losses]") {
  const auto in = random_inputs(4);
  const auto hidden = in.student_hidden.clone().requires_grad_(true);
  const auto loss = train::distillation_loss({in.teacher_weight, 4}, in.teacher_hidden, {in.student_weight, 4}, hidden,
                                             in.mask, Divergence::ReverseKL);
  loss.backward();
  CHECK(hidden.grad().abs().sum().item<double>() > 0);
  CHECK_FALSE(in.student_weight.grad().defined());

  const auto none = torch::zeros({kTokens}, torch::kBool);
  const auto hidden2 = in.student_hidden.clone().requires_grad_(true);
  const auto zero = train::cross_entropy_loss({in.student_weight}, hidden2, in.targets, none);
  CHECK(zero.item<double>() == 0);
  zero.backward();
  CHECK(hidden2.grad().abs().max().item<double>() == 0);
}

TEST_CASE("losses refuse mismatched shapes naming what disagrees", "[train][losses][bad-input]") {
  const auto in = random_inputs(5);
  REQUIRE_ERROR(train::token_kl({in.teacher_weight}, in.teacher_hidden.narrow(0, 0, 4), {in.student_weight},
                                in.student_hidden, Divergence::ReverseKL),
                "teacher has 4 tokens but the student 10");
  REQUIRE_ERROR(train::token_nll({in.student_weight}, in.student_hidden.narrow(1, 0, 5), in.targets),
                "model hidden size 5 does not match its head weight's 8");
  REQUIRE_ERROR(train::cross_entropy_loss({in.student_weight}, in.student_hidden, in.targets, in.mask.to(at::kLong)),
                "mask must be a [10] Bool tensor");
  REQUIRE_ERROR(train::token_kl({in.teacher_weight}, in.teacher_hidden, {in.student_weight}, in.student_hidden,
                                Divergence::ForwardKL, 0.0),
                "temperature must be positive");
  REQUIRE_ERROR(train::token_nll({in.student_weight, 0}, in.student_hidden, in.targets),
                "chunk_tokens must be positive");
}
