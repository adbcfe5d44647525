#include "infer/bench.h"

#include <ATen/CPUGeneratorImpl.h>

#include "core/error.h"
#include "core/log.h"
#include "infer/generate.h"
#include "infer/memory_budget.h"
#include "model/mil.h"

namespace hybridize::infer {

void fill_random_weights_for_speed(model::CausalLMImpl& model) {
  torch::NoGradGuard no_grad;
  for (auto& item : model.named_parameters()) {
    const bool norm = item.key().find("norm.weight") != std::string::npos;
    norm ? item.value().fill_(1.0) : item.value().normal_(0.0, 0.02);
  }
}

namespace {

std::vector<std::vector<int64_t>> random_prompts(int64_t batch, int64_t length, int64_t vocab, uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const auto ids = at::randint(vocab, {batch, length}, generator, at::kLong);
  std::vector<std::vector<int64_t>> prompts;
  for (int64_t b = 0; b < batch; ++b)
    prompts.emplace_back(ids[b].data_ptr<int64_t>(), ids[b].data_ptr<int64_t>() + length);
  return prompts;
}

BenchResult measure(model::CausalLMImpl& model, const BenchSettings& settings) {
  const auto dtype = model.model->embed_tokens->weight.scalar_type();
  const int64_t length = settings.prompt_length + settings.generated_length;
  const auto memory = estimate_memory(model.config, model.layout, length, dtype, settings.prefill_tokens);
  BenchResult result;
  result.layout = model.layout.to_string();
  result.attention_layers = model.layout.count(model::MixerKind::Attention);
  result.mamba_layers = model.layout.count(model::MixerKind::Mamba);
  result.prompt_length = settings.prompt_length;
  result.generated_length = settings.generated_length;
  result.weight_bytes = memory.weight_bytes;
  result.workspace_bytes = memory.workspace_bytes;
  result.state_bytes_per_sequence = memory.state_bytes_per_sequence;
  result.batch = settings.batch > 0 ? settings.batch
                                    : max_batch_for_memory(model.config, model.layout, length, dtype,
                                                           settings.prefill_tokens, settings.memory_budget);
  if (settings.batch == 0 && settings.max_batch > 0) result.batch = std::min(result.batch, settings.max_batch);
  if (result.batch < 1)
    fail("bench: layout '", result.layout, "' does not fit the memory budget of ", settings.memory_budget,
         " bytes: its weights take ", memory.weight_bytes, ", the prefill workspace ", memory.workspace_bytes,
         " and one sequence ", memory.bytes_per_sequence());
  result.requests = settings.requests > 0 ? settings.requests : settings.waves * result.batch;

  const auto prompts = random_prompts(result.requests, settings.prompt_length, model.config.vocab_size, settings.seed);
  GenerationOptions options;  // greedy, no stop tokens: every request runs its full length
  options.cuda_graphs = settings.cuda_graphs;
  options.max_batch = result.batch;
  options.prefill_tokens = settings.prefill_tokens;
  // Warm-up on a few of the prompts: kernels loaded and chosen, without a second full prefill.
  options.max_new_tokens = std::min<int64_t>(settings.generated_length, 2);
  const std::vector<std::vector<int64_t>> warm_up(prompts.begin(),
                                                  prompts.begin() + std::min<int64_t>(result.requests, 4));
  generate(model, warm_up, options);
  options.max_new_tokens = settings.generated_length;
  GenerationTimings timings;
  generate(model, prompts, options, &timings);

  auto decode_rate = [](const GenerationTimings& t) {
    return t.decode_steps > 0 ? t.decode_tokens / t.decode_seconds : 0;
  };
  result.wall_seconds = timings.wall_seconds;
  result.prefill_seconds = timings.prefill_seconds;
  result.decode_seconds = timings.decode_seconds;
  result.decode_steps = timings.decode_steps;
  result.capture_seconds = timings.capture_seconds;
  result.prefill_tokens_per_second = double(result.requests * settings.prompt_length) / timings.prefill_seconds;
  result.decode_tokens_per_second = decode_rate(timings);
  result.total_tokens_per_second = double(timings.generated_tokens) / timings.wall_seconds;
  result.prefill_share = timings.prefill_seconds / timings.wall_seconds;
  if (settings.also_eager && options.cuda_graphs && model.model->embed_tokens->weight.is_cuda()) {
    options.cuda_graphs = false;  // the same prompts again, decoded eagerly
    GenerationTimings eager;
    generate(model, prompts, options, &eager);
    result.eager_decode_tokens_per_second = decode_rate(eager);
  }
  return result;
}

}  // namespace

model::Layout evenly_spaced_mamba_layout(int64_t num_layers, int64_t count) {
  if (count < 0 || count > num_layers)
    fail("Mamba layer count ", count, " is outside 0..", num_layers, " (the model's layers)");
  std::vector<model::MixerKind> layers(static_cast<std::size_t>(num_layers), model::MixerKind::Attention);
  for (int64_t i = 0; i < count; ++i) layers[(2 * i + 1) * num_layers / (2 * count)] = model::MixerKind::Mamba;
  return model::Layout(std::move(layers));
}

std::vector<BenchResult> run_bench(model::CausalLMImpl& teacher, const std::vector<model::Layout>& layouts,
                                   const io::SsmConfig& ssm, const BenchSettings& settings) {
  if (settings.prompt_length < 1) fail("bench: prompt length must be at least 1, got ", settings.prompt_length);
  if (settings.generated_length < 1)
    fail("bench: generated length must be at least 1, got ", settings.generated_length);
  if (settings.batch < 0) fail("bench: batch must be positive (or 0 for the memory budget), got ", settings.batch);
  if (settings.batch == 0 && settings.memory_budget <= 0) fail("bench: an automatic batch needs a memory budget");
  if (settings.max_batch < 0) fail("bench: the batch cap must be positive (or 0 for none), got ", settings.max_batch);
  if (settings.requests < 0)
    fail("bench: requests must be positive (or 0 to count them in waves), got ", settings.requests);
  if (settings.waves < 1) fail("bench: waves must be at least 1, got ", settings.waves);
  if (settings.prefill_tokens < 1) fail("bench: prefill tokens must be at least 1, got ", settings.prefill_tokens);
  const int64_t context = teacher.config.max_position_embeddings;
  if (context > 0 && settings.prompt_length > context)
    fail("bench: prompt length ", settings.prompt_length, " is more than the model's context of ", context,
         " (max_position_embeddings)");
  std::vector<BenchResult> results;
  log_info("bench: teacher ", teacher.layout.to_string());
  results.push_back(measure(teacher, settings));
  for (const auto& layout : layouts) {
    log_info("bench: layout ", layout.to_string());
    release_cached_memory(teacher.model->embed_tokens->weight.device());
    auto student = model::derive_hybrid(teacher, layout, ssm, settings.seed, model::Derivation::sharing_all());
    results.push_back(measure(*student, settings));
    results.back().speedup = results.back().total_tokens_per_second / results.front().total_tokens_per_second;
  }
  return results;
}

}  // namespace hybridize::infer
