#include "train/sequence_set.h"

#include <algorithm>

#include "core/error.h"
#include "core/hashing.h"
#include "data/open_token_source.h"
#include "data/sample_packing.h"
#include "data/synthetic_vocabulary.h"

namespace hybridize::train {

namespace {

// The first position from which every later id is a target and none before
// (from 1: position 0 is never predicted), or -1 when the flags are no such suffix.
int64_t suffix_start(const std::vector<uint8_t>& counted) {
  int64_t first = int64_t(counted.size());
  while (first > 1 && counted[std::size_t(first - 1)]) --first;
  for (int64_t t = 1; t < first; ++t)
    if (counted[std::size_t(t)]) return -1;
  return first;
}

// `counted[i]`: whether sequence id i is a prediction that counts.
SequenceSet from_sequences(const std::vector<std::vector<int64_t>>& sequences,
                           const std::vector<std::vector<uint8_t>>& counted, int64_t pad_id) {
  int64_t longest = 0;
  for (const auto& sequence : sequences) longest = std::max<int64_t>(longest, int64_t(sequence.size()) - 1);
  const int64_t count = int64_t(sequences.size());
  SequenceSet set;
  set.input_ids = at::full({count, longest}, pad_id, at::kLong);
  set.targets = at::full({count, longest}, pad_id, at::kLong);
  set.loss_mask = at::zeros({count, longest}, at::kBool);
  auto ids = set.input_ids.accessor<int64_t, 2>();
  auto targets = set.targets.accessor<int64_t, 2>();
  auto mask = set.loss_mask.accessor<bool, 2>();
  ContentHasher hasher;
  for (int64_t row = 0; row < count; ++row) {
    const auto& sequence = sequences[row];
    for (int64_t t = 0; t + 1 < int64_t(sequence.size()); ++t) {
      ids[row][t] = sequence[t];
      targets[row][t] = sequence[t + 1];
      mask[row][t] = counted[row][std::size_t(t + 1)] != 0;
    }
    hasher.update(sequence.data(), sequence.size() * sizeof(int64_t));
    // A suffix hashes as its start, as before loss spans were followed, so older stores keep their data hashes.
    if (const int64_t first = suffix_start(counted[row]); first >= 0) {
      hasher.update(&first, sizeof(int64_t));
    } else {
      hasher.update("spans");
      hasher.update(counted[row].data(), counted[row].size());
    }
    hasher.update("|");
  }
  set.content_hash = hasher.hex_digest();
  return set;
}

SequenceSet synthetic_set(const data::SequenceSpec& spec, int64_t vocab_size) {
  namespace synthetic = data::synthetic;
  if (vocab_size < synthetic::kVocabSize)
    fail("--data synthetic: the model's vocabulary (", vocab_size, ") is smaller than the synthetic task's (",
         synthetic::kVocabSize, "); score it on its own corpus instead");
  const auto problems =
      synthetic::generate_split(spec.task, data::parse_split(spec.split), std::size_t(spec.samples), spec.seed);
  std::vector<std::vector<int64_t>> sequences, prompts;
  std::vector<std::vector<uint8_t>> counted;
  std::vector<std::string> answers;
  for (const auto& problem : problems) {
    const auto prompt = synthetic::encode(problem.prompt());
    const auto completion = synthetic::encode(problem.completion());
    std::vector<int64_t> sequence(prompt.begin(), prompt.end());
    sequence.insert(sequence.end(), completion.begin(), completion.end());
    // The loss covers the trace and the answer.
    std::vector<uint8_t> completion_ids(sequence.size(), 1);
    std::fill_n(completion_ids.begin(), prompt.size(), 0);
    sequences.push_back(std::move(sequence));
    counted.push_back(std::move(completion_ids));
    prompts.emplace_back(prompt.begin(), prompt.end());
    answers.push_back(problem.answer);
  }
  auto set = from_sequences(sequences, counted, synthetic::kPadId);
  set.counted = "the task's completions";
  set.prompts = std::move(prompts);
  set.answers = std::move(answers);
  set.spec = "synthetic:" + spec.split + ":" + std::to_string(spec.samples) + ":seed=" + std::to_string(spec.seed) +
             ":steps=" + std::to_string(spec.task.min_steps) + "-" + std::to_string(spec.task.max_steps) +
             ":mod=" + std::to_string(spec.task.modulus);
  return set;
}

SequenceSet corpus_set(const data::SequenceSpec& spec, int64_t vocab_size) {
  std::optional<data::TokenDType> raw;
  if (spec.raw_dtype == "uint16")
    raw = data::TokenDType::U16;
  else if (spec.raw_dtype == "uint32")
    raw = data::TokenDType::U32;
  else if (!spec.raw_dtype.empty())
    fail("--raw-dtype: '", spec.raw_dtype, "' is not supported (uint16 or uint32)");
  const auto source = data::open_token_source(spec.source, raw);
  data::validate_token_ids(*source, vocab_size);
  data::PackingOptions packing;
  packing.seq_len = std::size_t(spec.seq_len);
  packing.shuffle_seed = spec.seed;
  const data::PackedSamples samples(*source, packing);
  const bool spans = source->has_loss_spans() && !spec.ignore_loss_spans;
  // With loss spans, a sample may hold no target at all (a window of user
  // turns): such samples are passed over, and `offset` counts usable ones, so
  // held-out and training sets never overlap.
  std::vector<std::vector<int64_t>> sequences;
  std::vector<std::vector<uint8_t>> counted;
  int64_t usable = 0, passed_over = 0, counted_total = 0, predictions = 0;
  for (std::size_t i = 0; i < samples.size() && usable < spec.offset + spec.samples; ++i) {
    auto sample = samples.sample(i);
    if (!spans) std::fill(sample.loss_mask.begin(), sample.loss_mask.end(), uint8_t(1));
    const int64_t hits = std::count(sample.loss_mask.begin() + 1, sample.loss_mask.end(), uint8_t(1));
    if (hits == 0) {
      ++passed_over;
      continue;
    }
    if (usable++ < spec.offset) continue;
    counted_total += hits;
    predictions += int64_t(sample.tokens.size()) - 1;
    sequences.push_back(std::move(sample.tokens));
    counted.push_back(std::move(sample.loss_mask));
  }
  if (usable < spec.offset + spec.samples)
    fail(spec.source, ": holds ", usable, " samples of ", spec.seq_len, " tokens", spans ? " with loss targets" : "",
         ", fewer than the ", spec.offset + spec.samples,
         " needed (--samples, and the training samples of MMR probes after them)");
  auto set = from_sequences(sequences, counted, 0);
  if (!spans)
    set.counted = source->has_loss_spans() ? "every token (the corpus's loss spans ignored)"
                                           : "every token (the corpus has no loss spans)";
  else
    set.counted = "the corpus's loss spans: " + std::to_string(counted_total) + " of " + std::to_string(predictions) +
                  " predictions" +
                  (passed_over ? ", " + std::to_string(passed_over) + " samples without any passed over" : "");
  set.spec = spec.source + ":seq=" + std::to_string(spec.seq_len) + ":samples=" + std::to_string(spec.samples) +
             (spec.offset ? ":offset=" + std::to_string(spec.offset) : "") + ":seed=" + std::to_string(spec.seed) +
             (source->has_loss_spans() && spec.ignore_loss_spans ? ":all-tokens" : "");
  return set;
}

}  // namespace

SequenceBatch SequenceSet::batch(int64_t begin, int64_t end, at::Device device) const {
  std::vector<int64_t> rows;
  for (int64_t row = begin; row < end; ++row) rows.push_back(row);
  return gather(rows, device);
}

SequenceBatch SequenceSet::gather(const std::vector<int64_t>& rows, at::Device device) const {
  const auto index = at::tensor(rows, at::kLong);
  const auto mask = loss_mask.index_select(0, index);
  const int64_t length = mask.any(0).nonzero().max().item<int64_t>() + 1;
  auto take = [&](const at::Tensor& tensor) { return tensor.index_select(0, index).slice(1, 0, length).to(device); };
  return {take(input_ids), take(targets), take(loss_mask)};
}

SequenceSet load_sequences(const data::SequenceSpec& spec, int64_t vocab_size) {
  if (spec.samples <= 0) fail("--samples must be positive, got ", spec.samples);
  if (spec.source == "synthetic") return synthetic_set(spec, vocab_size);
  if (spec.seq_len < 2) fail("--seq-len must be at least 2, got ", spec.seq_len);
  return corpus_set(spec, vocab_size);
}

}  // namespace hybridize::train
