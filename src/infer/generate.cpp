#include "infer/generate.h"

#include <torch/cuda.h>

#include <algorithm>
#include <chrono>
#include <numeric>

#include "core/error.h"
#include "infer/decode_graphs.h"
#include "infer/sampling.h"

namespace hybridize::infer {

namespace {

// How often the loop asks the device whether every sequence has stopped: each
// question is a host sync that stalls the queue, so not every step.
constexpr int64_t kStopCheckInterval = 8;

void check_options(const model::CausalLMImpl& model, const std::vector<std::vector<int64_t>>& prompts,
                   const GenerationOptions& options) {
  const int64_t vocab = model.config.vocab_size;
  auto in_vocabulary = [&](int64_t id) { return id >= 0 && id < vocab; };
  if (prompts.empty()) fail("generate: no prompts");
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    if (prompts[i].empty()) fail("generate: prompt ", i, " is empty");
    for (std::size_t j = 0; j < prompts[i].size(); ++j)
      if (!in_vocabulary(prompts[i][j]))
        fail("generate: prompt ", i, " token ", j, " is id ", prompts[i][j], ", outside the vocabulary of ", vocab);
  }
  if (options.max_new_tokens < 1) fail("generate: max_new_tokens must be at least 1, got ", options.max_new_tokens);
  if (!(options.temperature >= 0)) fail("generate: temperature must be 0 (greedy) or positive, got ", options.temperature);
  if (!(options.top_p > 0 && options.top_p <= 1)) fail("generate: top_p must be in (0, 1], got ", options.top_p);
  if (!in_vocabulary(options.pad_id)) fail("generate: pad id ", options.pad_id, " is outside the vocabulary of ", vocab);
  for (int64_t id : options.stop_tokens)
    if (!in_vocabulary(id)) fail("generate: stop token ", id, " is outside the vocabulary of ", vocab);
}

class PhaseClock {
 public:
  PhaseClock(at::Device device, bool enabled) : device_(device), enabled_(enabled) { lap(); }
  // Seconds since the last lap, after the device finished the work queued so far.
  double lap() {
    if (!enabled_) return 0;
    if (device_.is_cuda()) torch::cuda::synchronize(device_.index());
    const auto now = std::chrono::steady_clock::now();
    const double seconds = std::chrono::duration<double>(now - last_).count();
    last_ = now;
    return seconds;
  }

 private:
  at::Device device_;
  bool enabled_;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace

std::vector<std::vector<int64_t>> generate(model::CausalLMImpl& model, const std::vector<std::vector<int64_t>>& prompts,
                                           const GenerationOptions& options, GenerationTimings* timings) {
  check_options(model, prompts, options);
  c10::InferenceMode inference;
  const auto device = model.model->embed_tokens->weight.device();
  const auto ids_options = at::TensorOptions().dtype(at::kLong).device(device);
  const int64_t batch = static_cast<int64_t>(prompts.size());
  auto length_of = [&](int64_t i) { return static_cast<int64_t>(prompts[i].size()); };

  // Rows ordered by prompt length: prompts of one length are adjacent rows, prefilled together.
  std::vector<int64_t> order(static_cast<std::size_t>(batch));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return length_of(a) < length_of(b); });
  const int64_t longest = length_of(order.back());
  // The last generated token is never fed back, so it needs no cache slot.
  model::InferenceState state(model, batch, longest + options.max_new_tokens - 1);

  PhaseClock clock(device, timings != nullptr);
  std::vector<at::Tensor> first_logits;
  for (int64_t first = 0; first < batch;) {
    const int64_t length = length_of(order[first]);
    int64_t end = first;
    std::vector<int64_t> flat;
    for (; end < batch && length_of(order[end]) == length; ++end)
      flat.insert(flat.end(), prompts[order[end]].begin(), prompts[order[end]].end());
    const auto ids = at::tensor(flat, at::kLong).view({end - first, length}).to(device);
    first_logits.push_back(model.prefill(ids, state, first));
    first = end;
  }
  auto logits = at::cat(first_logits);

  auto generator = make_generator(options.seed, device);
  const auto generated = at::full({batch, options.max_new_tokens}, options.pad_id, ids_options);
  const auto finished = at::zeros({batch}, ids_options.dtype(at::kBool));
  const auto stops = at::tensor(options.stop_tokens, at::kLong).to(device);
  // Declared after the state it replays on, so destroyed before it.
  std::unique_ptr<DecodeGraphs> graphs;
  if (options.cuda_graphs && device.is_cuda()) graphs = std::make_unique<DecodeGraphs>(model, state);
  int64_t steps = 0;
  for (int64_t t = 0; t < options.max_new_tokens; ++t) {
    const auto next = sample_next_tokens(logits, options.temperature, options.top_p, generator).masked_fill_(finished, options.pad_id);
    generated.select(1, t).copy_(next);
    if (t == 0 && timings) timings->prefill_seconds = clock.lap();
    if (t + 1 == options.max_new_tokens) break;
    if (!options.stop_tokens.empty()) {
      finished.logical_or_(at::isin(next, stops));
      if ((t + 1) % kStopCheckInterval == 0 && finished.all().item<bool>()) break;
    }
    const auto ids = next.unsqueeze(1);
    logits = graphs ? graphs->step(ids) : model.decode_step(ids, state);
    if (graphs && t == 0) {
      if (timings) timings->capture_seconds = clock.lap();  // the step that captured the graphs
    } else {
      ++steps;
    }
  }
  if (timings) {
    timings->decode_seconds = clock.lap();
    timings->decode_steps = steps;
  }

  // Each row up to its first stop token; then back to the prompts' order.
  const auto host = generated.cpu();
  const auto rows = host.accessor<int64_t, 2>();
  std::vector<std::vector<int64_t>> result(static_cast<std::size_t>(batch));
  for (int64_t r = 0; r < batch; ++r) {
    auto& tokens = result[order[r]];
    for (int64_t t = 0; t < options.max_new_tokens; ++t) {
      tokens.push_back(rows[r][t]);
      if (std::find(options.stop_tokens.begin(), options.stop_tokens.end(), rows[r][t]) != options.stop_tokens.end()) break;
    }
  }
  return result;
}

}  // namespace hybridize::infer
