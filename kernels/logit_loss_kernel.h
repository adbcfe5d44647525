#pragma once
// Token losses on one chunk of logits rows, and their gradient with respect to
// the student's logits: what the chunked training losses (train/losses.h) run
// per chunk. With p = softmax(student / T) and q = softmax(teacher / T):
//   reverse KL  sum p (log p - log q)   gradient  p * ((log p - log q) - KL) / T
//   forward KL  sum q (log q - log p)   gradient  (p - q) / T
//   CE          -log p[target] (T = 1)  gradient  p - onehot(target)
// Losses are fp32; the logits may be fp32, bf16 or fp16 and are read in fp32.
#include <ATen/ATen.h>

namespace hybridize::kernels {

enum class LogitLoss { ReverseKL, ForwardKL, CrossEntropy };

struct LogitLossInputs {
  LogitLoss kind = LogitLoss::ReverseKL;
  at::Tensor student;  // [rows, vocab]
  at::Tensor teacher;  // [rows, vocab], the student's dtype (KL only)
  at::Tensor targets;  // [rows] int64 (CE only)
  double temperature = 1.0;
  // [rows] fp32: with it, `grad` is d(sum_i grad_scale_i loss_i) / d student,
  // in the student's dtype; undefined: no gradient.
  at::Tensor grad_scale;
};

struct LogitLossOutputs {
  at::Tensor losses;  // [rows] fp32
  at::Tensor grad;    // [rows, vocab], or undefined without grad_scale
};

// Validates shapes and dtypes; throws Error naming the offending tensor.
void check_logit_loss_inputs(const LogitLossInputs& in);

// Ground truth in plain LibTorch ops, any device.
LogitLossOutputs logit_loss_reference(const LogitLossInputs& in);

// What the losses call: one fused pass over the rows on CUDA, the reference elsewhere.
LogitLossOutputs logit_loss(const LogitLossInputs& in);

}  // namespace hybridize::kernels
