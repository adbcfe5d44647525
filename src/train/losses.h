#pragma once
// Token-level losses on final hidden states: distillation (reverse or forward
// KL between teacher and student) and next-token cross-entropy. Vocabularies
// of real models are ~131K, so logits are made `chunk_tokens` rows at a time,
// and the training losses take each chunk's gradient in the same pass as its
// loss (kernels/logit_loss_kernel.h), keeping only the gradients of the hidden states
// and the head: no [N, vocab] tensor ever exists at once, and none is made twice.
#include <ATen/ATen.h>

#include <string>

#include "model/causal_lm.h"

namespace hybridize::train {

// Reverse: KL(student || teacher), the mode-seeking divergence Apriel-H1 distils with;
// forward: KL(teacher || student).
enum class Divergence { ReverseKL, ForwardKL };
// A flag's spelling: reverse (KL(student||teacher), the paper's) or forward; throws Error naming `flag`.
Divergence parse_divergence(const std::string& name, const std::string& flag);
// Stored settings' spelling: reverse_kl or forward_kl.
const char* divergence_key(Divergence divergence);

// An LM-head weight [vocab, hidden] and how many tokens to turn into logits at once.
struct LogitHead {
  at::Tensor weight;
  int64_t chunk_tokens = 1024;
};

// The head of `model`: lm_head's weight, or the embedding it is tied to.
LogitHead head_of(model::CausalLMImpl& model, int64_t chunk_tokens = 1024);

// Per-token values without gradient (evaluation), [N] fp32, for hidden states
// [N, hidden]. The KL is between the softmaxes of logits / temperature.
at::Tensor token_kl(const LogitHead& teacher_head, const at::Tensor& teacher_hidden, const LogitHead& student_head,
                    const at::Tensor& student_hidden, Divergence kind, double temperature = 1.0);
at::Tensor token_nll(const LogitHead& head, const at::Tensor& hidden, const at::Tensor& targets /*[N] int64*/);
// The most likely next token of each of the N positions, [N] int64.
at::Tensor token_argmax(const LogitHead& head, const at::Tensor& hidden);

// Training losses: the mean over tokens where `mask` [N] (bool) is true (0
// when none is). Differentiable w.r.t. student_hidden and the student head's
// weight when it requires grad; the teacher side gets no gradient. A
// data-parallel rank passes `mean_over`, the token count of the global batch, so
// that the ranks' losses sum to the mean a single process would take.
at::Tensor distillation_loss(const LogitHead& teacher_head, const at::Tensor& teacher_hidden,
                             const LogitHead& student_head, const at::Tensor& student_hidden, const at::Tensor& mask,
                             Divergence kind, double temperature = 1.0, int64_t mean_over = 0);
at::Tensor cross_entropy_loss(const LogitHead& head, const at::Tensor& hidden, const at::Tensor& targets,
                              const at::Tensor& mask, int64_t mean_over = 0);

}  // namespace hybridize::train
