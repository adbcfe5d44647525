#include "search/mmr_probe.h"

#include <torch/torch.h>

#include <map>

#include "core/error.h"
#include "model/attention.h"
#include "model/mamba.h"
#include "model/mil.h"
#include "model/teacher_pass.h"
#include "train/mixed_precision.h"
#include "train/optimizer.h"
#include "train/sample_metrics.h"

namespace hybridize::search {

namespace {

// The teacher's stream entering `layer` and its final hidden states.
struct Activations {
  at::Tensor layer_input, final_hidden;
};

Activations teacher_activations(model::CausalLMImpl& teacher, int64_t layer, const at::Tensor& ids) {
  std::vector<bool> keep(static_cast<std::size_t>(teacher.config.num_layers), false);
  keep[std::size_t(layer)] = true;
  auto pass = run_teacher(teacher, ids, keep);
  return {pass.layer_inputs[std::size_t(layer)], pass.final_hidden};
}

// The student's final hidden states: the teacher with `mixer` in place of the
// layer's attention, run from the teacher's stream entering that layer.
at::Tensor student_forward(model::CausalLMImpl& teacher, int64_t layer, model::Mamba& mixer,
                           const at::Tensor& layer_input) {
  auto& stack = *teacher.model;
  auto& block = stack.layers[std::size_t(layer)];
  auto context = stack.context(layer_input.size(1), layer_input.scalar_type(), layer_input.device());
  // The mixer keeps fp32 master weights whatever the teacher's precision.
  const auto update = mixer.forward(block->input_layernorm(layer_input).to(at::kFloat), context);
  auto hidden = block->mlp_block(layer_input + update.to(layer_input.scalar_type()));
  hidden = stack.run_layers(hidden, layer + 1, int64_t(stack.layers.size()), context);
  return stack.norm(hidden);
}

}  // namespace

void MmrOptions::validate() const {
  if (steps <= 0 || batch_size <= 0) fail("MMR probe: --mmr-steps and --mmr-batch-size must be positive");
  if (warmup_steps < 0 || warmup_steps > steps)
    fail("MMR probe: --mmr-warmup must lie in [0, ", steps, "] (--mmr-steps), got ", warmup_steps);
}

MmrProbeResult run_mmr_probe(model::CausalLMImpl& teacher, int64_t layer, const train::SequenceSet& train_set,
                             const train::SequenceSet& eval_set, const MmrOptions& options) {
  auto& stack = *teacher.model;
  const auto& block = stack.layers.at(std::size_t(layer));
  if (block->kind != model::MixerKind::Attention)
    fail("MMR probe of layer ", layer, ": the layer is ", model::mixer_name(block->kind), ", not attention");
  options.validate();
  const at::Device device = stack.embed_tokens->weight.device();

  const auto ssm = model::mil_ssm_config(teacher.config, options.d_state);
  model::Mamba mixer(teacher.config, ssm, at::TensorOptions().dtype(at::kFloat).device(at::kCPU));
  mixer.reset_parameters(options.seed + uint64_t(layer));
  {
    // MIL copies from an fp32 view of the attention it replaces.
    model::Attention attention(teacher.config, 0, at::TensorOptions().dtype(at::kFloat));
    torch::NoGradGuard no_grad;
    const auto source = static_cast<const model::Attention&>(*block->mixer).named_parameters();
    for (auto& item : attention.named_parameters()) item.value().copy_(source[item.key()]);
    model::mil_initialize(mixer, attention);
  }
  mixer.to(device);

  train::OptimizerConfig config;
  config.schedule = {options.learning_rate, options.warmup_steps, options.steps, options.learning_rate * 0.1};
  train::Optimizer optimizer(mixer, config);
  // The run's precision decides, as in distillation's default: a bf16 teacher
  // on CUDA trains the fp32 mixer under bf16 autocast.
  const auto autocast = train::resolve_autocast(train::Autocast::Auto, stack.embed_tokens->weight);
  auto head = train::head_of(teacher, options.logit_chunk_tokens);

  const int64_t train_samples = train_set.size();
  const int64_t batches = (train_samples + options.batch_size - 1) / options.batch_size;
  std::map<int64_t, std::pair<train::SequenceBatch, Activations>> cache;
  int64_t cached_bytes = 0;
  MmrProbeResult result;
  for (int64_t step = 0; step < options.steps; ++step) {
    const int64_t index = step % batches;
    std::pair<train::SequenceBatch, Activations> work;
    if (auto hit = cache.find(index); hit != cache.end()) {
      work = hit->second;
    } else {
      const int64_t begin = index * options.batch_size;
      work.first = train_set.batch(begin, std::min(train_samples, begin + options.batch_size), device);
      work.second = teacher_activations(teacher, layer, work.first.input_ids);
      const int64_t bytes = (work.second.layer_input.nbytes() + work.second.final_hidden.nbytes());
      if (cached_bytes + bytes <= options.activation_cache_bytes && batches < options.steps) {
        cache[index] = work;
        cached_bytes += bytes;
      }
    }
    const auto& [batch, activations] = work;
    at::Tensor student;
    {
      const model::AutocastRegion region(device.type(), autocast);
      student = student_forward(teacher, layer, mixer, activations.layer_input);
    }
    const auto loss = train::distillation_loss(head, activations.final_hidden.flatten(0, 1), head,
                                               student.flatten(0, 1), batch.loss_mask.flatten(), options.divergence);
    optimizer.accumulate(loss);
    optimizer.step();
    result.curve.push_back(loss.item<double>());
  }

  torch::NoGradGuard no_grad;
  for (int64_t begin = 0; begin < eval_set.size(); begin += options.batch_size) {
    const auto batch = eval_set.batch(begin, std::min(eval_set.size(), begin + options.batch_size), device);
    const auto activations = teacher_activations(teacher, layer, batch.input_ids);
    const auto tokens = train::counted_tokens(batch.loss_mask);
    const auto teacher_hidden = tokens.select(activations.final_hidden);
    const auto student_hidden = tokens.select(student_forward(teacher, layer, mixer, activations.layer_input));
    const auto targets = batch.targets.flatten().index_select(0, tokens.flat_index);
    const int64_t samples = batch.input_ids.size(0);
    auto append = [&](const char* metric, const at::Tensor& values) {
      const auto means = train::per_sample_mean(values, tokens.rows, samples);
      auto& all = result.held_out[metric];
      all.insert(all.end(), means.begin(), means.end());
    };
    append("distill_loss", train::token_kl(head, teacher_hidden, head, student_hidden, options.divergence));
    append("kl", train::token_kl(head, teacher_hidden, head, student_hidden, train::Divergence::ForwardKL));
    append("nll_increase",
           train::token_nll(head, student_hidden, targets) - train::token_nll(head, teacher_hidden, targets));
  }
  return result;
}

}  // namespace hybridize::search
