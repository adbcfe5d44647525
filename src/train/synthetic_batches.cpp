#include "train/synthetic_batches.h"

#include <algorithm>

#include "core/error.h"
#include "data/synthetic_vocabulary.h"

namespace hybridize::train {

namespace synthetic = data::synthetic;

SyntheticBatch make_batch(std::span<const synthetic::Problem> problems) {
  if (problems.empty()) fail("a batch needs at least one problem");
  std::vector<std::vector<data::TokenId>> texts;
  std::vector<std::size_t> prompt_lengths, answer_starts;
  std::size_t longest = 0;
  for (const auto& problem : problems) {
    const auto prompt = problem.prompt();
    const auto text = problem.text();
    texts.push_back(synthetic::encode(text));
    prompt_lengths.push_back(prompt.size());
    // The text ends with the trace's last item, the queried variable's value
    // (where the lookup happens), then '#', the answer's digits (a copy) and EOS.
    answer_starts.push_back(text.size() - 2 * (problem.answer.size() + 1));
    longest = std::max(longest, text.size());
  }
  const auto batch = static_cast<int64_t>(problems.size());
  const auto length = static_cast<int64_t>(longest - 1);
  SyntheticBatch out;
  out.input_ids = at::full({batch, length}, synthetic::kPadId, at::kLong);
  out.targets = at::full({batch * length}, synthetic::kPadId, at::kLong);
  out.completion_mask = at::zeros({batch * length}, at::kBool);
  out.answer_mask = at::zeros({batch * length}, at::kBool);
  auto ids = out.input_ids.accessor<int64_t, 2>();
  auto targets = out.targets.accessor<int64_t, 1>();
  auto completion = out.completion_mask.accessor<bool, 1>();
  auto answer = out.answer_mask.accessor<bool, 1>();
  for (int64_t b = 0; b < batch; ++b) {
    const auto& text = texts[b];
    const auto n = static_cast<int64_t>(text.size());
    for (int64_t t = 0; t + 1 < n; ++t) {
      ids[b][t] = text[t];
      const int64_t flat = b * length + t;
      targets[flat] = text[t + 1];
      // Position t predicts token t+1.
      completion[flat] = t + 1 >= static_cast<int64_t>(prompt_lengths[b]);
      answer[flat] = t + 1 >= static_cast<int64_t>(answer_starts[b]);
    }
    out.tokens += n - 1;
  }
  return out;
}

namespace {
uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
}  // namespace

std::size_t sample_index(uint64_t seed, std::size_t count, int64_t sample) {
  if (count == 0) fail("no problems to sample from");
  const auto epoch = static_cast<uint64_t>(sample) / count;
  const auto position = static_cast<std::size_t>(static_cast<uint64_t>(sample) % count);
  // Fisher-Yates with a fixed generator (std::shuffle's order is the library's choice).
  // Cached per (seed, count, epoch): consecutive samples share an epoch.
  thread_local uint64_t cached_seed = 0, cached_epoch = 0;
  thread_local std::vector<std::size_t> order;
  if (order.size() != count || cached_seed != seed || cached_epoch != epoch) {
    order.resize(count);
    for (std::size_t i = 0; i < count; ++i) order[i] = i;
    uint64_t state = seed ^ (epoch * 0xD1B54A32D192ED03ull);
    for (std::size_t i = count - 1; i > 0; --i) std::swap(order[i], order[splitmix64(state) % (i + 1)]);
    cached_seed = seed;
    cached_epoch = epoch;
  }
  return order[position];
}

}  // namespace hybridize::train
