#include "infer/generate.h"

#include <torch/cuda.h>

#include <algorithm>
#include <chrono>
#include <memory>

#include "core/error.h"
#include "infer/decode_graphs.h"
#include "infer/sampling.h"

namespace hybridize::infer {

namespace {

// How often the loop asks the device which sequences emitted a stop token:
// each question is a host sync that stalls the queue, so not every step.
constexpr int64_t kStopCheckInterval = 8;

std::vector<int64_t> budgets_of(const std::vector<GenerationRequest>& requests, const GenerationOptions& options) {
  std::vector<int64_t> budgets;
  for (const auto& request : requests)
    budgets.push_back(request.max_new_tokens > 0 ? request.max_new_tokens : options.max_new_tokens);
  return budgets;
}

void check_requests(const model::CausalLMImpl& model, const std::vector<GenerationRequest>& requests,
                    const std::vector<int64_t>& budgets, const GenerationOptions& options) {
  const int64_t vocab = model.config.vocab_size, context = model.config.max_position_embeddings;
  auto in_vocabulary = [&](int64_t id) { return id >= 0 && id < vocab; };
  if (requests.empty()) fail("generate: no prompts");
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const auto& prompt = requests[i].prompt;
    if (prompt.empty()) fail("generate: prompt ", i, " is empty");
    for (std::size_t j = 0; j < prompt.size(); ++j)
      if (!in_vocabulary(prompt[j]))
        fail("generate: prompt ", i, " token ", j, " is id ", prompt[j], ", outside the vocabulary of ", vocab);
    if (requests[i].max_new_tokens < 0)
      fail("generate: prompt ", i, " asks for ", requests[i].max_new_tokens, " new tokens");
    if (budgets[i] < 1) fail("generate: max_new_tokens must be at least 1, got ", budgets[i]);
    if (context > 0 && int64_t(prompt.size()) > context)
      fail("generate: prompt ", i, " has ", prompt.size(), " tokens, more than the model's context of ", context,
           " (max_position_embeddings)");
  }
  if (!(options.temperature >= 0))
    fail("generate: temperature must be 0 (greedy) or positive, got ", options.temperature);
  if (!(options.top_p > 0 && options.top_p <= 1)) fail("generate: top_p must be in (0, 1], got ", options.top_p);
  if (!in_vocabulary(options.pad_id))
    fail("generate: pad id ", options.pad_id, " is outside the vocabulary of ", vocab);
  for (int64_t id : options.stop_tokens)
    if (!in_vocabulary(id)) fail("generate: stop token ", id, " is outside the vocabulary of ", vocab);
  if (options.max_batch < 0)
    fail("generate: max_batch must be positive (or 0 for every request at once), got ", options.max_batch);
  if (options.prefill_tokens < 1) fail("generate: prefill_tokens must be at least 1, got ", options.prefill_tokens);
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

// The rows, the queue and the bookkeeping of one generate() call. Device
// tensors hold what decode steps read and write without a host sync; the host
// keeps which request each row holds and how many tokens it has made.
class Engine {
 public:
  Engine(model::CausalLMImpl& model, const std::vector<GenerationRequest>& requests, std::vector<int64_t> budgets,
         const GenerationOptions& options, GenerationTimings* timings, const FinishedRequest& on_finished)
      : model_(model),
        requests_(requests),
        budgets_(std::move(budgets)),
        options_(options),
        timings_(timings),
        on_finished_(on_finished),
        device_(model.model->embed_tokens->weight.device()),
        rows_(options.max_batch > 0 ? std::min<int64_t>(options.max_batch, int64_t(requests.size()))
                                    : int64_t(requests.size())),
        state_(model, rows_, longest_sequence()),
        clock_(device_, timings != nullptr),
        results_(requests.size()) {
    const auto ids = at::TensorOptions().dtype(at::kLong).device(device_);
    const int64_t longest_budget = *std::max_element(budgets_.begin(), budgets_.end());
    generated_ = at::full({rows_, longest_budget}, options.pad_id, ids);
    made_ = at::zeros({rows_}, ids);
    last_ = at::full({rows_}, options.pad_id, ids);
    holding_ = at::zeros({rows_}, ids);
    idle_ = at::ones({rows_}, ids.dtype(at::kBool));
    streams_ = at::zeros({rows_}, ids);
    stops_ = at::tensor(options.stop_tokens, at::kLong).to(device_);
    row_request_.assign(static_cast<std::size_t>(rows_), -1);
    row_made_.assign(static_cast<std::size_t>(rows_), 0);
    for (int64_t row = 0; row < rows_; ++row) state_.end_sequence(row);
  }

  std::vector<std::vector<int64_t>> run() {
    // A request may end at its first token (a budget of one), freeing its row before any step.
    while (next_request_ < int64_t(requests_.size()) || any_row_busy()) {
      admit();
      if (any_row_busy()) decode_step();
    }
    if (timings_) {
      timings_->decode_seconds += clock_.lap();
      timings_->wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    }
    return std::move(results_);
  }

 private:
  int64_t longest_sequence() const {
    int64_t longest = 1;
    // The last generated token is never fed back, so it needs no cache slot.
    for (std::size_t i = 0; i < requests_.size(); ++i)
      longest = std::max<int64_t>(longest, int64_t(requests_[i].prompt.size()) + budgets_[i] - 1);
    return longest;
  }
  bool any_row_busy() const {
    return std::any_of(row_request_.begin(), row_request_.end(), [](int64_t r) { return r >= 0; });
  }
  int64_t prompt_length(int64_t row) const { return int64_t(requests_[row_request_[row]].prompt.size()); }

  // Free rows take the next requests, whose prompts are prefilled at once.
  void admit() {
    std::vector<int64_t> admitted;
    for (int64_t row = 0; row < rows_ && next_request_ < int64_t(requests_.size()); ++row) {
      if (row_request_[row] >= 0) continue;
      row_request_[row] = next_request_++;
      row_made_[row] = 0;
      state_.start_sequence(row);
      admitted.push_back(row);
    }
    if (admitted.empty()) return;
    if (timings_) timings_->decode_seconds += clock_.lap();
    // Runs of adjacent rows with prompts of one length go through together.
    for (std::size_t i = 0; i < admitted.size();) {
      const int64_t first = admitted[i], length = prompt_length(first);
      const int64_t most_rows = std::clamp<int64_t>(options_.prefill_tokens / length, 1, kMaxPrefillRows);
      std::size_t end = i + 1;
      while (end < admitted.size() && admitted[end] == admitted[end - 1] + 1 &&
             prompt_length(admitted[end]) == length && int64_t(end - i) < most_rows)
        ++end;
      prefill(first, int64_t(end - i), length);
      i = end;
    }
    if (timings_) timings_->prefill_seconds += clock_.lap();
  }

  // Rows [first, first + count), prompts of `length` tokens, chunk by chunk; then each row's first token.
  void prefill(int64_t first, int64_t count, int64_t length) {
    std::vector<int64_t> flat, streams;
    for (int64_t row = first; row < first + count; ++row) {
      const auto request = std::size_t(row_request_[row]);
      const auto& prompt = requests_[request].prompt;
      flat.insert(flat.end(), prompt.begin(), prompt.end());
      streams.push_back(draw_stream(options_.seed, requests_[request].seed.value_or(request)));
    }
    streams_.narrow(0, first, count).copy_(at::tensor(streams, at::kLong));
    const auto ids = at::tensor(flat, at::kLong).view({count, length}).to(device_);
    const int64_t chunk = std::min(length, options_.prefill_tokens);
    at::Tensor logits;
    for (int64_t start = 0; start < length; start += chunk)
      logits = model_.prefill(ids.narrow(1, start, std::min(chunk, length - start)), state_, first);
    const auto tokens = next_tokens(logits, first, count);
    generated_.narrow(0, first, count).select(1, 0).copy_(tokens);
    last_.narrow(0, first, count).copy_(tokens);
    made_.narrow(0, first, count).fill_(1);
    holding_.narrow(0, first, count).fill_(1);
    idle_.narrow(0, first, count)
        .copy_(stops_.numel() > 0 ? at::isin(tokens, stops_) : at::zeros_like(tokens).to(at::kBool));
    for (int64_t row = first; row < first + count; ++row) row_made_[row] = 1;
    finish_rows_at_budget();
  }

  void decode_step() {
    const auto ids = last_.unsqueeze(1);
    at::Tensor logits;
    if (options_.cuda_graphs && device_.is_cuda()) {
      const bool capturing = !graphs_;
      if (capturing) graphs_ = std::make_unique<DecodeGraphs>(model_, state_);
      logits = graphs_->step(ids);
      if (capturing && timings_)
        timings_->capture_seconds += clock_.lap();
      else
        count_step();
    } else {
      logits = model_.decode_step(ids, state_);
      count_step();
    }
    const auto next = next_tokens(logits, 0, rows_).masked_fill_(idle_, options_.pad_id);
    // Each row's token goes to its own next place; rows without a sequence write padding in place.
    generated_.scatter_(1, made_.unsqueeze(1), next.unsqueeze(1));
    made_.add_(holding_);
    last_.copy_(next);
    if (stops_.numel() > 0) idle_.logical_or_(at::isin(next, stops_));
    for (int64_t row = 0; row < rows_; ++row)
      if (row_request_[row] >= 0) ++row_made_[row];
    ++steps_;
    finish_rows_at_budget();
    if (stops_.numel() > 0 && steps_ % kStopCheckInterval == 0) finish_stopped_rows();
  }

  // Tokens of rows [first, first + count) from their logits; each row draws the next token of its own stream.
  at::Tensor next_tokens(const at::Tensor& logits, int64_t first, int64_t count) {
    if (options_.temperature == 0) return logits.argmax(-1);
    const auto keys = draw_keys(streams_.narrow(0, first, count), made_.narrow(0, first, count));
    return sample_next_tokens(logits, options_.temperature, options_.top_p, keys);
  }

  void count_step() {
    if (!timings_) return;
    ++timings_->decode_steps;
    timings_->decode_tokens +=
        std::count_if(row_request_.begin(), row_request_.end(), [](int64_t r) { return r >= 0; });
  }

  void finish_rows_at_budget() {
    std::vector<int64_t> done;
    for (int64_t row = 0; row < rows_; ++row)
      if (row_request_[row] >= 0 && row_made_[row] == budgets_[row_request_[row]]) done.push_back(row);
    finish(done);
  }

  void finish_stopped_rows() {
    const auto host = idle_.cpu();
    const auto idle = host.accessor<bool, 1>();
    std::vector<int64_t> done;
    for (int64_t row = 0; row < rows_; ++row)
      if (row_request_[row] >= 0 && idle[row]) done.push_back(row);
    finish(done);
  }

  // Hands the rows' tokens to their requests (each up to its first stop token) and frees the rows.
  void finish(const std::vector<int64_t>& rows) {
    if (rows.empty()) return;
    const auto host = generated_.cpu();
    const auto tokens = host.accessor<int64_t, 2>();
    for (const int64_t row : rows) {
      auto& out = results_[row_request_[row]];
      for (int64_t t = 0; t < row_made_[row]; ++t) {
        out.push_back(tokens[row][t]);
        if (std::find(options_.stop_tokens.begin(), options_.stop_tokens.end(), tokens[row][t]) !=
            options_.stop_tokens.end())
          break;
      }
      if (timings_) timings_->generated_tokens += int64_t(out.size());
      if (on_finished_) on_finished_(std::size_t(row_request_[row]), out);
      row_request_[row] = -1;
      state_.end_sequence(row);
      holding_[row].fill_(0);
      idle_[row].fill_(true);
      made_[row].fill_(0);
      last_[row].fill_(options_.pad_id);
    }
  }

  model::CausalLMImpl& model_;
  const std::vector<GenerationRequest>& requests_;
  const std::vector<int64_t> budgets_;
  const GenerationOptions& options_;
  GenerationTimings* timings_;
  const FinishedRequest& on_finished_;
  const at::Device device_;
  const int64_t rows_;
  model::InferenceState state_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  PhaseClock clock_;
  // Device: tokens made per row [rows, longest budget], their count, the last one (the next input),
  // 1 where a row holds a sequence, true where its tokens are padding (no sequence, or stopped),
  // and the draw stream of the sequence it holds.
  at::Tensor generated_, made_, last_, holding_, idle_, stops_, streams_;
  std::vector<int64_t> row_request_, row_made_;
  int64_t next_request_ = 0, steps_ = 0;
  std::vector<std::vector<int64_t>> results_;
  // Declared after the state it replays on, so destroyed before it.
  std::unique_ptr<DecodeGraphs> graphs_;
};

}  // namespace

std::vector<std::vector<int64_t>> serve(model::CausalLMImpl& model, const std::vector<GenerationRequest>& requests,
                                        const GenerationOptions& options, GenerationTimings* timings,
                                        const FinishedRequest& on_finished) {
  auto budgets = budgets_of(requests, options);
  check_requests(model, requests, budgets, options);
  c10::InferenceMode inference;
  if (timings) *timings = GenerationTimings{};
  return Engine(model, requests, std::move(budgets), options, timings, on_finished).run();
}

std::vector<std::vector<int64_t>> generate(model::CausalLMImpl& model, const std::vector<std::vector<int64_t>>& prompts,
                                           const GenerationOptions& options, GenerationTimings* timings) {
  std::vector<GenerationRequest> requests;
  for (const auto& prompt : prompts) requests.push_back({prompt, 0, std::nullopt});
  return serve(model, requests, options, timings);
}

}  // namespace hybridize::infer
