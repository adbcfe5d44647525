#include "train/losses.h"

#include <torch/torch.h>

#include "core/error.h"
#include "core/spelling.h"

namespace hybridize::train {

namespace {
constexpr Spelling<Divergence> kFlagSpellings[] = {{Divergence::ReverseKL, "reverse"}, {Divergence::ForwardKL, "forward"}};
constexpr Spelling<Divergence> kStoredSpellings[] = {{Divergence::ReverseKL, "reverse_kl"},
                                                     {Divergence::ForwardKL, "forward_kl"}};
}  // namespace

Divergence parse_divergence(const std::string& name, const std::string& flag) {
  return parse_spelling(kFlagSpellings, name, flag);
}

const char* divergence_key(Divergence divergence) { return spelling_of(kStoredSpellings, divergence); }

namespace {

enum class LossKind : int64_t { ReverseKL, ForwardKL, CrossEntropy };

LossKind loss_kind(Divergence kind) {
  return kind == Divergence::ReverseKL ? LossKind::ReverseKL : LossKind::ForwardKL;
}

// The matmul runs in the hidden states' dtype: under bf16 autocast they are bf16
// while the head keeps fp32 master weights, and the backward pass (on autograd's
// thread, outside the autocast region) must make the same logits.
at::Tensor float_logits(const at::Tensor& hidden, const at::Tensor& weight) {
  return at::linear(hidden, weight.to(hidden.scalar_type())).to(at::kFloat);
}

// log_softmax(logits / temperature), without the division at temperature 1
// (a pass over a [chunk, vocabulary] fp32 tensor saved).
at::Tensor log_probs(const at::Tensor& logits, double temperature) {
  return at::log_softmax(temperature == 1 ? logits : logits / temperature, -1);
}

// Per-token losses [c] (fp32) of one chunk of c tokens. The teacher tensors
// are unused for CE, the targets for KL.
at::Tensor chunk_losses(LossKind kind, const at::Tensor& student_hidden, const at::Tensor& student_weight,
                        const at::Tensor& teacher_hidden, const at::Tensor& teacher_weight, const at::Tensor& targets,
                        double temperature) {
  const auto student_logits = float_logits(student_hidden, student_weight);
  if (kind == LossKind::CrossEntropy)
    return -at::log_softmax(student_logits, -1).gather(1, targets.unsqueeze(1)).squeeze(1);
  const auto log_student = log_probs(student_logits, temperature);
  const auto log_teacher = log_probs(float_logits(teacher_hidden, teacher_weight), temperature);
  if (kind == LossKind::ReverseKL) return (log_student.exp() * (log_student - log_teacher)).sum(-1);
  return (log_teacher.exp() * (log_teacher - log_student)).sum(-1);
}

// The gradient of one chunk's per-token losses with respect to the student's
// logits (fp32 [c, vocabulary]), in closed form: autograd through log_softmax,
// exp and the sums would take several more passes over the chunk's logits.
// With p = softmax(logits / T) for the student and q for the teacher:
//   reverse KL  sum p (log p - log q):  p * ((log p - log q) - KL) / T
//   forward KL  sum q (log q - log p):  (p - q) / T
//   CE          -log p[target]:         p - onehot(target)
at::Tensor chunk_logit_gradients(LossKind kind, const at::Tensor& student_hidden, const at::Tensor& student_weight,
                                 const at::Tensor& teacher_hidden, const at::Tensor& teacher_weight,
                                 const at::Tensor& targets, double temperature) {
  const auto student_logits = float_logits(student_hidden, student_weight);
  if (kind == LossKind::CrossEntropy) {
    auto grad = at::softmax(student_logits, -1);
    grad.scatter_add_(1, targets.unsqueeze(1), at::full({targets.size(0), 1}, -1.0, grad.options()));
    return grad;
  }
  const auto log_student = log_probs(student_logits, temperature);
  const auto log_teacher = log_probs(float_logits(teacher_hidden, teacher_weight), temperature);
  at::Tensor grad;
  if (kind == LossKind::ReverseKL) {
    const auto student = log_student.exp();
    auto log_ratio = log_student - log_teacher;
    const auto kl = (student * log_ratio).sum(-1, /*keepdim=*/true);
    grad = log_ratio.sub_(kl).mul_(student);
  } else {
    grad = log_student.exp().sub_(log_teacher.exp());
  }
  return temperature == 1 ? grad : grad.div_(temperature);
}

// Tensors a loss kind does not use travel through autograd as empty placeholders
// (custom Functions refuse undefined inputs).
at::Tensor rows(const at::Tensor& tensor, int64_t start, int64_t count) {
  return tensor.numel() > 0 ? tensor.narrow(0, start, count) : tensor;
}

// A head weight cast once for all chunks (not once per chunk: casting a 131K x
// hidden head costs about as much as one chunk's matmul).
at::Tensor in_dtype_of(const at::Tensor& weight, const at::Tensor& hidden) { return weight.to(hidden.scalar_type()); }

// sum_i weights_i * loss_i over all rows, chunk by chunk; the backward pass
// recomputes each chunk's logits instead of keeping them.
struct ChunkedLoss : torch::autograd::Function<ChunkedLoss> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& student_hidden,
                            const at::Tensor& student_weight, const at::Tensor& teacher_hidden,
                            const at::Tensor& teacher_weight, const at::Tensor& targets, const at::Tensor& weights,
                            int64_t kind, int64_t chunk, double temperature) {
    ctx->save_for_backward({student_hidden, student_weight, teacher_hidden, teacher_weight, targets, weights});
    ctx->saved_data["kind"] = kind;
    ctx->saved_data["chunk"] = chunk;
    ctx->saved_data["temperature"] = temperature;
    auto total = at::zeros({}, student_hidden.options().dtype(at::kFloat));
    const auto student_head = in_dtype_of(student_weight, student_hidden);
    const auto teacher_head = in_dtype_of(teacher_weight, teacher_hidden);
    const int64_t n = student_hidden.size(0);
    for (int64_t start = 0; start < n; start += chunk) {
      const int64_t count = std::min(chunk, n - start);
      const auto losses = chunk_losses(static_cast<LossKind>(kind), rows(student_hidden, start, count), student_head,
                                       rows(teacher_hidden, start, count), teacher_head, rows(targets, start, count),
                                       temperature);
      total += (losses * weights.narrow(0, start, count)).sum();
    }
    return total;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto &student_hidden = saved[0], &student_weight = saved[1], &teacher_hidden = saved[2],
               &teacher_weight = saved[3], &targets = saved[4], &weights = saved[5];
    const auto kind = static_cast<LossKind>(ctx->saved_data["kind"].toInt());
    const int64_t chunk = ctx->saved_data["chunk"].toInt();
    const double temperature = ctx->saved_data["temperature"].toDouble();
    const bool need_hidden = ctx->needs_input_grad(0), need_weight = ctx->needs_input_grad(1);
    at::Tensor grad_hidden = need_hidden ? at::empty_like(student_hidden) : at::Tensor();
    // The head's gradient sums over every chunk: accumulate in fp32 whatever the weight's dtype.
    at::Tensor grad_weight = need_weight ? at::zeros_like(student_weight, at::kFloat) : at::Tensor();
    // The logits' matmuls run in the hidden states' dtype, the forward's and so their gradients'.
    const auto weight = in_dtype_of(student_weight.detach(), student_hidden);
    const auto teacher_head = in_dtype_of(teacher_weight, teacher_hidden);
    const int64_t n = student_hidden.size(0);
    torch::NoGradGuard no_grad;
    for (int64_t start = 0; start < n; start += chunk) {
      const int64_t count = std::min(chunk, n - start);
      const auto hidden = student_hidden.narrow(0, start, count);
      const auto scale = (weights.narrow(0, start, count) * grad_outputs[0]).unsqueeze(1);
      const auto grad_logits = chunk_logit_gradients(kind, hidden, weight, rows(teacher_hidden, start, count),
                                                     teacher_head, rows(targets, start, count), temperature)
                                   .mul_(scale)
                                   .to(hidden.scalar_type());
      if (need_hidden) {
        auto slice = grad_hidden.narrow(0, start, count);
        at::mm_out(slice, grad_logits, weight);
      }
      if (need_weight) grad_weight += at::mm(grad_logits.t(), hidden);
    }
    if (need_weight) grad_weight = grad_weight.to(student_weight.scalar_type());
    return {grad_hidden, grad_weight, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(),
            at::Tensor(),  at::Tensor(),  at::Tensor()};
  }
};

void check_head(const LogitHead& head, const at::Tensor& hidden, const char* side) {
  if (!head.weight.defined() || head.weight.dim() != 2)
    fail(side, " head weight must be [vocab, hidden]");
  if (hidden.dim() != 2)
    fail(side, " hidden states must be [tokens, hidden], got ", hidden.dim(), " dimensions");
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
at::Tensor masked_mean(LossKind kind, const LogitHead& student_head, const at::Tensor& student_hidden,
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
  return ChunkedLoss::apply(select(student_hidden), student_head.weight, detached(select(teacher_hidden)), detached(teacher_weight), select(targets),
                            weights, static_cast<int64_t>(kind), student_head.chunk_tokens, temperature);
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
                          return chunk_losses(loss_kind(kind), student_hidden.narrow(0, start, count), student_weight,
                                              teacher_hidden.narrow(0, start, count), teacher_weight, at::Tensor(),
                                              temperature);
                        });
}

at::Tensor token_nll(const LogitHead& head, const at::Tensor& hidden, const at::Tensor& targets) {
  check_head(head, hidden, "model");
  check_per_token(targets, at::kLong, hidden.size(0), "targets");
  const auto weight = in_dtype_of(head.weight, hidden);
  return chunk_by_chunk(hidden.size(0), head.chunk_tokens, hidden.options().dtype(at::kFloat),
                        [&](int64_t start, int64_t count) {
                          return chunk_losses(LossKind::CrossEntropy, hidden.narrow(0, start, count), weight,
                                              at::Tensor(), at::Tensor(), targets.narrow(0, start, count), 1.0);
                        });
}

at::Tensor token_argmax(const LogitHead& head, const at::Tensor& hidden) {
  check_head(head, hidden, "model");
  const auto weight = in_dtype_of(head.weight, hidden);
  return chunk_by_chunk(hidden.size(0), head.chunk_tokens, hidden.options().dtype(at::kLong),
                        [&](int64_t start, int64_t count) {
                          return at::linear(hidden.narrow(0, start, count), weight).argmax(-1);
                        });
}

at::Tensor distillation_loss(const LogitHead& teacher_head, const at::Tensor& teacher_hidden,
                             const LogitHead& student_head, const at::Tensor& student_hidden, const at::Tensor& mask,
                             Divergence kind, double temperature, int64_t mean_over) {
  check_pair(teacher_head, teacher_hidden, student_head, student_hidden, temperature);
  return masked_mean(loss_kind(kind), student_head, student_hidden, teacher_hidden, teacher_head.weight, at::Tensor(),
                     mask, temperature, mean_over);
}

at::Tensor cross_entropy_loss(const LogitHead& head, const at::Tensor& hidden, const at::Tensor& targets,
                              const at::Tensor& mask) {
  check_head(head, hidden, "model");
  check_per_token(targets, at::kLong, hidden.size(0), "targets");
  return masked_mean(LossKind::CrossEntropy, head, hidden, at::Tensor(), at::Tensor(), targets, mask, 1.0);
}

}  // namespace hybridize::train
