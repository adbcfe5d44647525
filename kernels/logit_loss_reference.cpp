#include "kernels/logit_loss_kernel.h"

#include "core/error.h"

#ifdef HYBRIDIZE_HAVE_CUDA
#include "kernels/cuda/cuda_kernels.h"
#endif

namespace hybridize::kernels {

void check_logit_loss_inputs(const LogitLossInputs& in) {
  const char* what = "logit loss";
  if (!in.student.defined() || in.student.dim() != 2) fail(what, ": tensor 'student' must be [rows, vocab]");
  const int64_t rows = in.student.size(0);
  if (in.kind == LogitLoss::CrossEntropy) {
    if (!in.targets.defined() || in.targets.dim() != 1 || in.targets.size(0) != rows ||
        in.targets.scalar_type() != at::kLong)
      fail(what, ": tensor 'targets' must be [", rows, "] int64");
    if (in.temperature != 1) fail(what, ": cross-entropy takes no temperature, got ", in.temperature);
  } else {
    if (!in.teacher.defined() || in.teacher.sizes() != in.student.sizes())
      fail(what, ": tensor 'teacher' must be ", in.student.sizes(), " like 'student'");
    if (in.teacher.scalar_type() != in.student.scalar_type())
      fail(what, ": tensor 'teacher' is ", c10::toString(in.teacher.scalar_type()), ", 'student' ",
           c10::toString(in.student.scalar_type()));
  }
  if (!(in.temperature > 0)) fail(what, ": temperature must be positive, got ", in.temperature);
  if (in.grad_scale.defined() &&
      (in.grad_scale.dim() != 1 || in.grad_scale.size(0) != rows || in.grad_scale.scalar_type() != at::kFloat))
    fail(what, ": tensor 'grad_scale' must be [", rows, "] fp32");
}

namespace {

// log_softmax(logits / temperature) in fp32 (double stays double, for the
// kernels' tests), without the division at temperature 1 (a pass over the chunk saved).
at::Tensor log_probs(const at::Tensor& logits, double temperature) {
  const auto wide = logits.scalar_type() == at::kDouble ? logits : logits.to(at::kFloat);
  return at::log_softmax(temperature == 1 ? wide : wide / temperature, -1);
}

}  // namespace

LogitLossOutputs logit_loss_reference(const LogitLossInputs& in) {
  check_logit_loss_inputs(in);
  const bool want_grad = in.grad_scale.defined();
  const auto log_student = log_probs(in.student, in.temperature);
  LogitLossOutputs out;
  at::Tensor grad;
  if (in.kind == LogitLoss::CrossEntropy) {
    out.losses = -log_student.gather(1, in.targets.unsqueeze(1)).squeeze(1);
    if (want_grad) {
      grad = log_student.exp();
      grad.scatter_add_(1, in.targets.unsqueeze(1), at::full({in.targets.size(0), 1}, -1.0, grad.options()));
    }
  } else {
    const auto log_teacher = log_probs(in.teacher, in.temperature);
    if (in.kind == LogitLoss::ReverseKL) {
      const auto student = log_student.exp();
      auto log_ratio = log_student - log_teacher;
      const auto kl = (student * log_ratio).sum(-1, /*keepdim=*/true);
      out.losses = kl.squeeze(1);
      if (want_grad) grad = log_ratio.sub_(kl).mul_(student);
    } else {
      const auto teacher = log_teacher.exp();
      out.losses = (teacher * (log_teacher - log_student)).sum(-1);
      if (want_grad) grad = log_student.exp().sub_(teacher);
    }
    if (want_grad && in.temperature != 1) grad.div_(in.temperature);
  }
  if (want_grad) out.grad = grad.mul_(in.grad_scale.unsqueeze(1)).to(in.student.scalar_type());
  return out;
}

LogitLossOutputs logit_loss(const LogitLossInputs& in) {
#ifdef HYBRIDIZE_HAVE_CUDA
  if (in.student.defined() && in.student.is_cuda() && in.student.scalar_type() != at::kDouble)
    return cuda::logit_loss(in);
#endif
  return logit_loss_reference(in);
}

}  // namespace hybridize::kernels
