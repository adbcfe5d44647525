#include "train/losses.h"

#include <torch/torch.h>

#include "core/error.h"
#include "core/spelling.h"
#include "kernels/logit_loss_kernel.h"

namespace hybridize::train {

namespace {
constexpr Spelling<Divergence> kFlagSpellings[] = {{Divergence::ReverseKL, "reverse"},
                                                   {Divergence::ForwardKL, "forward"}};
constexpr Spelling<Divergence> kStoredSpellings[] = {{Divergence::ReverseKL, "reverse_kl"},
                                                     {Divergence::ForwardKL, "forward_kl"}};
}  // namespace

Divergence parse_divergence(const std::string& name, const std::string& flag) {
  return parse_spelling(kFlagSpellings, name, flag);
}

const char* divergence_key(Divergence divergence) { return spelling_of(kStoredSpellings, divergence); }

namespace {

using kernels::LogitLoss;

LogitLoss loss_kind(Divergence kind) {
  return kind == Divergence::ReverseKL ? LogitLoss::ReverseKL : LogitLoss::ForwardKL;
}

// Per-token losses [c] (fp32) of one chunk of c tokens and, given grad_scale
// [c], the gradient of their weighted sum with respect to the student's logits
// (kernels/logit_loss_kernel.h). The teacher tensors are unused for CE, the targets
// for KL. The logits' matmuls run in the hidden states' dtype (under bf16
// autocast bf16, while the heads keep fp32 master weights).
kernels::LogitLossOutputs chunk_loss(LogitLoss kind, const at::Tensor& student_hidden, const at::Tensor& student_weight,
                                     const at::Tensor& teacher_hidden, const at::Tensor& teacher_weight,
                                     const at::Tensor& targets, double temperature,
                                     const at::Tensor& grad_scale = at::Tensor()) {
  kernels::LogitLossInputs in;
  in.kind = kind;
  in.student = at::linear(student_hidden, student_weight);
  in.temperature = temperature;
  in.grad_scale = grad_scale;
  if (kind == LogitLoss::CrossEntropy) {
    in.targets = targets;
  } else {
    in.teacher = at::linear(teacher_hidden, teacher_weight);
    // A teacher and student of different precisions meet in fp32 (exact widening).
    if (in.teacher.scalar_type() != in.student.scalar_type()) {
      in.teacher = in.teacher.to(at::kFloat);
      in.student = in.student.to(at::kFloat);
    }
  }
  return kernels::logit_loss(in);
}

// Tensors a loss kind does not use travel through autograd as empty placeholders
// (custom Functions refuse undefined inputs).
at::Tensor rows(const at::Tensor& tensor, int64_t start, int64_t count) {
  return tensor.numel() > 0 ? tensor.narrow(0, start, count) : tensor;
}

// A head weight cast once for all chunks (not once per chunk: casting a 131K x
// hidden head costs about as much as one chunk's matmul).
at::Tensor in_dtype_of(const at::Tensor& weight, const at::Tensor& hidden) { return weight.to(hidden.scalar_type()); }

// acc (fp32) += a b. On CUDA cuBLAS sums reduced-precision products straight
// into fp32: no rounded product, no separate pass to add it.
void add_product(at::Tensor& acc, const at::Tensor& a, const at::Tensor& b) {
  if (a.scalar_type() == at::kFloat)
    acc.addmm_(a, b);
  else if (acc.is_cuda())
    at::addmm_out(acc, acc, a, b, at::kFloat);
  else
    acc += at::mm(a, b).to(at::kFloat);
}

// sum_i weights_i * loss_i over all rows, chunk by chunk. The gradients come
// from the same pass over each chunk's logits as the loss (the forward's, when
// gradients are wanted), so no chunk's logits are made twice; the backward
// only scales them by the loss's gradient.
struct ChunkedLoss : torch::autograd::Function<ChunkedLoss> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& student_hidden,
                            const at::Tensor& student_weight, const at::Tensor& teacher_hidden,
                            const at::Tensor& teacher_weight, const at::Tensor& targets, const at::Tensor& weights,
                            int64_t kind, int64_t chunk, double temperature, bool need_hidden, bool need_weight) {
    auto total = at::zeros({}, student_hidden.options().dtype(at::kFloat));
    const auto student_head = in_dtype_of(student_weight, student_hidden);
    const auto teacher_head = in_dtype_of(teacher_weight, teacher_hidden);
    // The head's gradient sums over every chunk: accumulated in fp32 whatever the weight's dtype.
    auto grad_hidden = need_hidden ? at::empty_like(student_hidden) : at::Tensor();
    auto grad_weight = need_weight ? at::zeros_like(student_weight, at::kFloat) : at::Tensor();
    const int64_t n = student_hidden.size(0);
    for (int64_t start = 0; start < n; start += chunk) {
      const int64_t count = std::min(chunk, n - start);
      const auto hidden = student_hidden.narrow(0, start, count), weight = weights.narrow(0, start, count);
      const auto out = chunk_loss(static_cast<LogitLoss>(kind), hidden, student_head,
                                  rows(teacher_hidden, start, count), teacher_head, rows(targets, start, count),
                                  temperature, need_hidden || need_weight ? weight : at::Tensor());
      total += (out.losses * weight).sum();
      const auto grad_logits = out.grad.defined() ? out.grad.to(hidden.scalar_type()) : at::Tensor();
      if (need_hidden) {
        auto slice = grad_hidden.narrow(0, start, count);
        at::mm_out(slice, grad_logits, student_head);
      }
      if (need_weight) add_product(grad_weight, grad_logits.t(), hidden);
    }
    ctx->save_for_backward({grad_hidden, grad_weight});
    ctx->saved_data["weight_dtype"] = student_weight.scalar_type();
    return total;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto& scale = grad_outputs[0];
    const auto grad_hidden = saved[0].defined() ? saved[0] * scale : at::Tensor();
    const auto grad_weight =
        saved[1].defined() ? (saved[1] * scale).to(ctx->saved_data["weight_dtype"].toScalarType()) : at::Tensor();
    return {grad_hidden,  grad_weight,  at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(),
            at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

void check_head(const LogitHead& head, const at::Tensor& hidden, const char* side) {
  if (!head.weight.defined() || head.weight.dim() != 2) fail(side, " head weight must be [vocab, hidden]");
  if (hidden.dim() != 2) fail(side, " hidden states must be [tokens, hidden], got ", hidden.dim(), " dimensions");
  if (hidden.size(1) != head.weight.size(1))
    fail(side, " hidden size ", hidden.size(1), " does not match its head weight's ", head.weight.size(1));
  if (head.chunk_tokens <= 0) fail(side, " head chunk_tokens must be positive, got ", head.chunk_tokens);
}

void check_pair(const LogitHead& teacher_head, const at::Tensor& teacher_hidden, const LogitHead& student_head,
                const at::Tensor& student_hidden, double temperature) {
  check_head(teacher_head, teacher_hidden, "teacher");
  check_head(student_head, student_hidden, "student");
  if (teacher_hidden.size(0) != student_hidden.size(0))
    fail("teacher has ", teacher_hidden.size(0), " tokens but the student ", student_hidden.size(0));
  if (teacher_head.weight.size(0) != student_head.weight.size(0))
    fail("teacher vocabulary ", teacher_head.weight.size(0), " differs from the student's ",
         student_head.weight.size(0));
  if (!(temperature > 0)) fail("temperature must be positive, got ", temperature);
}

void check_per_token(const at::Tensor& tensor, at::ScalarType dtype, int64_t tokens, const char* what) {
  if (tensor.dim() != 1 || tensor.size(0) != tokens || tensor.scalar_type() != dtype)
    fail(what, " must be a [", tokens, "] ", c10::toString(dtype), " tensor, got ", tensor.sizes(), " ",
         c10::toString(tensor.scalar_type()));
}

// The chunked loss summed over the rows `mask` selects, divided by `mean_over`
// (0: by their count, the mean).
at::Tensor masked_mean(LogitLoss kind, const LogitHead& student_head, const at::Tensor& student_hidden,
                       const at::Tensor& teacher_hidden, const at::Tensor& teacher_weight, const at::Tensor& targets,
                       const at::Tensor& mask, double temperature, int64_t mean_over = 0) {
  check_per_token(mask, at::kBool, student_hidden.size(0), "mask");
  const auto index = mask.nonzero().squeeze(1);
  const int64_t count = index.size(0);
  // Nothing selected: a zero that still belongs to the graph.
  if (count == 0) return (student_hidden.sum() * 0).to(at::kFloat);
  const auto placeholder = at::empty({0}, student_hidden.options());
  const auto select = [&](const at::Tensor& t) { return t.defined() ? t.index_select(0, index) : placeholder; };
  const auto detached = [&](const at::Tensor& t) { return t.defined() ? t.detach() : placeholder; };
  if (mean_over < 0) fail("mean_over must be >= 0, got ", mean_over);
  const double divisor = static_cast<double>(mean_over > 0 ? mean_over : count);
  const auto weights = at::full({count}, 1.0 / divisor, student_hidden.options().dtype(at::kFloat));
  // The gradients are made in the forward pass, so only where autograd will want them.
  const bool grad = at::GradMode::is_enabled();
  return ChunkedLoss::apply(select(student_hidden), student_head.weight, detached(select(teacher_hidden)),
                            detached(teacher_weight), select(targets), weights, static_cast<int64_t>(kind),
                            student_head.chunk_tokens, temperature, grad && student_hidden.requires_grad(),
                            grad && student_head.weight.requires_grad());
}

// Per-token values [n] made `chunk` rows at a time by values(start, count),
// without gradient: no [n, vocab] tensor exists at once.
template <class Values>
at::Tensor chunk_by_chunk(int64_t n, int64_t chunk, const at::TensorOptions& options, Values&& values) {
  torch::NoGradGuard no_grad;
  auto out = at::empty({n}, options);
  for (int64_t start = 0; start < n; start += chunk) {
    const int64_t count = std::min(chunk, n - start);
    out.narrow(0, start, count).copy_(values(start, count));
  }
  return out;
}

}  // namespace

LogitHead head_of(model::CausalLMImpl& model, int64_t chunk_tokens) {
  return {model.lm_head ? model.lm_head->weight : model.model->embed_tokens->weight, chunk_tokens};
}

at::Tensor token_kl(const LogitHead& teacher_head, const at::Tensor& teacher_hidden, const LogitHead& student_head,
                    const at::Tensor& student_hidden, Divergence kind, double temperature) {
  check_pair(teacher_head, teacher_hidden, student_head, student_hidden, temperature);
  const auto student_weight = in_dtype_of(student_head.weight, student_hidden);
  const auto teacher_weight = in_dtype_of(teacher_head.weight, teacher_hidden);
  return chunk_by_chunk(student_hidden.size(0), student_head.chunk_tokens, student_hidden.options().dtype(at::kFloat),
                        [&](int64_t start, int64_t count) {
                          return chunk_loss(loss_kind(kind), student_hidden.narrow(0, start, count), student_weight,
                                            teacher_hidden.narrow(0, start, count), teacher_weight, at::Tensor(),
                                            temperature)
                              .losses;
                        });
}

at::Tensor token_nll(const LogitHead& head, const at::Tensor& hidden, const at::Tensor& targets) {
  check_head(head, hidden, "model");
  check_per_token(targets, at::kLong, hidden.size(0), "targets");
  const auto weight = in_dtype_of(head.weight, hidden);
  return chunk_by_chunk(hidden.size(0), head.chunk_tokens, hidden.options().dtype(at::kFloat),
                        [&](int64_t start, int64_t count) {
                          return chunk_loss(LogitLoss::CrossEntropy, hidden.narrow(0, start, count), weight,
                                            at::Tensor(), at::Tensor(), targets.narrow(0, start, count), 1.0)
                              .losses;
                        });
}

at::Tensor token_argmax(const LogitHead& head, const at::Tensor& hidden) {
  check_head(head, hidden, "model");
  const auto weight = in_dtype_of(head.weight, hidden);
  return chunk_by_chunk(
      hidden.size(0), head.chunk_tokens, hidden.options().dtype(at::kLong),
      [&](int64_t start, int64_t count) { return at::linear(hidden.narrow(0, start, count), weight).argmax(-1); });
}

at::Tensor distillation_loss(const LogitHead& teacher_head, const at::Tensor& teacher_hidden,
                             const LogitHead& student_head, const at::Tensor& student_hidden, const at::Tensor& mask,
                             Divergence kind, double temperature, int64_t mean_over) {
  check_pair(teacher_head, teacher_hidden, student_head, student_hidden, temperature);
  return masked_mean(loss_kind(kind), student_head, student_hidden, teacher_hidden, teacher_head.weight, at::Tensor(),
                     mask, temperature, mean_over);
}

at::Tensor cross_entropy_loss(const LogitHead& head, const at::Tensor& hidden, const at::Tensor& targets,
                              const at::Tensor& mask, int64_t mean_over) {
  check_head(head, hidden, "model");
  check_per_token(targets, at::kLong, hidden.size(0), "targets");
  return masked_mean(LogitLoss::CrossEntropy, head, hidden, at::Tensor(), at::Tensor(), targets, mask, 1.0, mean_over);
}

}  // namespace hybridize::train
