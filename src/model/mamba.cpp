#include "model/mamba.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "kernels/causal_conv1d_kernel.h"
#include "kernels/selective_scan_kernel.h"
#include "model/inference_state.h"

namespace hybridize::model {

Mamba::Mamba(const io::TransformerConfig& config, const io::SsmConfig& ssm_, const at::TensorOptions& options)
    : ssm(ssm_) {
  const int64_t hidden = config.hidden_size;
  in_proj = register_module("in_proj", Linear(hidden, 2 * ssm.d_inner + 2 * ssm.d_xb + ssm.dt_rank, false, options));
  dt_proj = register_module("dt_proj", Linear(ssm.dt_rank, ssm.d_inner, ssm.dt_proj_bias, options));
  conv1d = register_module("conv1d", DepthwiseConv1d(ssm.conv_channels(), ssm.d_conv, ssm.conv_bias, options));
  // A_log and D stay fp32 whatever the model dtype: the recurrence is sensitive to them.
  const auto fp32 = options.dtype(at::kFloat);
  A_log = register_parameter("A_log", torch::empty({ssm.d_inner, ssm.d_state}, fp32));
  D = register_parameter("D", torch::empty({ssm.d_inner}, fp32));
  out_proj = register_module("out_proj", Linear(ssm.d_inner, hidden, false, options));
}

void Mamba::reset_parameters(uint64_t seed) {
  torch::NoGradGuard no_grad;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto uniform = [&](at::IntArrayRef shape, double bound) {
    return at::empty(shape, at::kFloat).uniform_(-bound, bound, generator);
  };
  auto fill = [](at::Tensor& target, const at::Tensor& value) { target.copy_(value); };
  // nn.Linear / nn.Conv1d defaults: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
  fill(in_proj->weight, uniform(in_proj->weight.sizes(), 1.0 / std::sqrt(double(in_proj->weight.size(1)))));
  fill(out_proj->weight, uniform(out_proj->weight.sizes(), 1.0 / std::sqrt(double(ssm.d_inner))));
  const double conv_bound = 1.0 / std::sqrt(double(ssm.d_conv));
  fill(conv1d->weight, uniform(conv1d->weight.sizes(), conv_bound));
  if (conv1d->bias.defined()) fill(conv1d->bias, uniform(conv1d->bias.sizes(), conv_bound));

  const double dt_std = std::pow(double(ssm.dt_rank), -0.5) * ssm.dt_scale;
  if (ssm.dt_init == "constant")
    dt_proj->weight.fill_(dt_std);
  else
    fill(dt_proj->weight, uniform(dt_proj->weight.sizes(), dt_std));
  if (dt_proj->bias.defined()) {
    const double log_min = std::log(ssm.dt_min), log_max = std::log(ssm.dt_max);
    const auto dt = at::exp(at::rand({ssm.d_inner}, generator, at::kFloat) * (log_max - log_min) + log_min)
                        .clamp_min(ssm.dt_init_floor);
    fill(dt_proj->bias, dt + at::log(-at::expm1(-dt)));  // softplus^-1(dt)
  }
  fill(A_log, at::log(at::arange(1, ssm.d_state + 1, at::kFloat)).expand({ssm.d_inner, ssm.d_state}));
  D.fill_(1.0);
}

at::Tensor Mamba::widen(const at::Tensor& narrow) const {
  return state_groups(narrow).repeat_interleave(ssm.group_repeat(), -2).flatten(-2);
}

std::optional<at::Tensor> Mamba::conv_bias() const {
  return conv1d->bias.defined() ? std::optional<at::Tensor>(conv1d->bias) : std::nullopt;
}

at::Tensor Mamba::state_groups(const at::Tensor& flat) const {
  return flat.unflatten(-1, {flat.size(-1) / ssm.d_state, ssm.d_state});
}

at::Tensor Mamba::decay_rates() const { return -at::exp(A_log.to(at::kFloat)); }

std::vector<at::Tensor> Mamba::split_projection(const at::Tensor& hidden) {
  return in_proj(hidden).split_with_sizes({ssm.d_inner, ssm.d_xb, ssm.d_xb, ssm.d_inner, ssm.dt_rank}, -1);
}

at::Tensor Mamba::forward(const at::Tensor& hidden, MixerContext& context) { return scan_sequence(hidden, nullptr); }

at::Tensor Mamba::prefill(const at::Tensor& hidden, MixerContext& context, LayerCache& cache) {
  return scan_sequence(hidden, &cache);
}

at::Tensor Mamba::scan_sequence(const at::Tensor& hidden, LayerCache* cache) {
  const auto parts = split_projection(hidden);
  auto conv_input = ssm.repeat_kv_before_conv ? widen(parts[1]) : parts[1];
  const int64_t length = conv_input.size(1), carried = ssm.d_conv - 1;
  // A prefill chunk continues the cached sequence: the conv runs over the
  // window's last d_conv - 1 inputs (zeros for a new sequence) and the chunk,
  // and the scan starts from the cached state.
  if (cache) conv_input = at::cat({cache->conv.narrow(2, 1, carried).transpose(1, 2), conv_input}, 1);
  auto conv_out = kernels::causal_conv1d(conv_input, conv1d->weight.squeeze(1), conv_bias());
  if (cache) {
    conv_out = conv_out.narrow(1, carried, length);
    cache->conv.copy_(kernels::causal_conv1d_state(conv_input, ssm.d_conv));
  }
  kernels::ScanInputs scan;
  scan.x = ssm.repeat_kv_before_conv ? conv_out : widen(conv_out);
  // dt_proj's bias enters twice, once in the projection and once as the scan's
  // delta bias: the released m2 mixers compute it so, and their weights expect it.
  scan.delta = dt_proj(parts[4]);
  if (dt_proj->bias.defined()) scan.delta_bias = dt_proj->bias;
  scan.A = decay_rates();
  scan.B = state_groups(parts[2]);
  scan.C = state_groups(parts[3]);
  scan.D = D;
  scan.z = parts[0];
  if (cache) scan.initial_state = cache->ssm;
  auto out = kernels::selective_scan(scan);
  if (cache) cache->ssm.copy_(out.final_state);
  return out_proj(out.y);
}

at::Tensor Mamba::decode(const at::Tensor& hidden, DecodeContext& context, LayerCache& cache) {
  const auto parts = split_projection(hidden.squeeze(1));  // each [B, width]
  const auto conv_input = ssm.repeat_kv_before_conv ? widen(parts[1]) : parts[1];
  const auto conv = kernels::causal_conv1d_step(cache.conv, conv_input, conv1d->weight.squeeze(1), conv_bias());
  cache.conv.copy_(conv.new_state);
  kernels::StepInputs step;
  step.state = cache.ssm;
  step.x = ssm.repeat_kv_before_conv ? conv.y : widen(conv.y);
  step.delta = dt_proj(parts[4]);
  if (dt_proj->bias.defined()) step.delta_bias = dt_proj->bias;
  step.A = decay_rates();
  step.B = state_groups(parts[2]);
  step.C = state_groups(parts[3]);
  step.D = D;
  step.z = parts[0];
  const auto out = kernels::selective_scan_step(step);
  cache.ssm.copy_(out.new_state);
  return out_proj(out.y).unsqueeze(1);
}

}  // namespace hybridize::model
