#include "train/sequence_set.h"

#include <algorithm>

#include "core/error.h"
#include "core/hashing.h"
#include "core/spelling.h"
#include "data/open_token_source.h"
#include "data/sample_packing.h"
#include "data/synthetic_vocabulary.h"

namespace hybridize::train {

namespace {

SequenceSet from_sequences(const std::vector<std::vector<int64_t>>& sequences, const std::vector<int64_t>& first_counted,
                       int64_t pad_id) {
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
      mask[row][t] = t + 1 >= first_counted[row];
    }
    hasher.update(sequence.data(), sequence.size() * sizeof(int64_t));
    hasher.update(&first_counted[row], sizeof(int64_t));
    hasher.update("|");
  }
  set.content_hash = hasher.hex_digest();
  return set;
}

SequenceSet synthetic_set(const SequenceSpec& spec, int64_t vocab_size) {
  namespace synthetic = data::synthetic;
  if (vocab_size < synthetic::kVocabSize)
    fail("--data synthetic: the model's vocabulary (", vocab_size, ") is smaller than the synthetic task's (",
         synthetic::kVocabSize, "); score it on its own corpus instead");
  const auto problems = synthetic::generate_split(spec.task, parse_split(spec.split), std::size_t(spec.samples), spec.seed);
  std::vector<std::vector<int64_t>> sequences, prompts;
  std::vector<int64_t> first_counted;
  std::vector<std::string> answers;
  for (const auto& problem : problems) {
    const auto prompt = synthetic::encode(problem.prompt());
    const auto completion = synthetic::encode(problem.completion());
    std::vector<int64_t> sequence(prompt.begin(), prompt.end());
    sequence.insert(sequence.end(), completion.begin(), completion.end());
    sequences.push_back(std::move(sequence));
    first_counted.push_back(int64_t(prompt.size()));  // the loss covers the trace and the answer
    prompts.emplace_back(prompt.begin(), prompt.end());
    answers.push_back(problem.answer);
  }
  auto set = from_sequences(sequences, first_counted, synthetic::kPadId);
  set.prompts = std::move(prompts);
  set.answers = std::move(answers);
  set.spec = "synthetic:" + spec.split + ":" + std::to_string(spec.samples) + ":seed=" + std::to_string(spec.seed) +
               ":steps=" + std::to_string(spec.task.min_steps) + "-" + std::to_string(spec.task.max_steps) +
               ":mod=" + std::to_string(spec.task.modulus);
  return set;
}

SequenceSet corpus_set(const SequenceSpec& spec, int64_t vocab_size) {
  std::optional<data::TokenDType> raw;
  if (spec.raw_dtype == "uint16") raw = data::TokenDType::U16;
  else if (spec.raw_dtype == "uint32") raw = data::TokenDType::U32;
  else if (!spec.raw_dtype.empty()) fail("--raw-dtype: '", spec.raw_dtype, "' is not supported (uint16 or uint32)");
  const auto source = data::open_token_source(spec.source, raw);
  data::validate_token_ids(*source, vocab_size);
  data::PackingOptions packing;
  packing.seq_len = std::size_t(spec.seq_len);
  packing.shuffle_seed = spec.seed;
  const data::PackedSamples samples(*source, packing);
  if (samples.size() < std::size_t(spec.offset + spec.samples))
    fail(spec.source, ": holds ", samples.size(), " samples of ", spec.seq_len, " tokens, fewer than the ",
         spec.offset + spec.samples, " needed (--samples, and the training samples of MMR probes after them)");
  std::vector<std::vector<int64_t>> sequences;
  for (int64_t i = spec.offset; i < spec.offset + spec.samples; ++i)
    sequences.push_back(samples.sample(std::size_t(i)).tokens);
  auto set = from_sequences(sequences, std::vector<int64_t>(sequences.size(), 1), 0);
  set.spec = spec.source + ":seq=" + std::to_string(spec.seq_len) + ":samples=" + std::to_string(spec.samples) +
             (spec.offset ? ":offset=" + std::to_string(spec.offset) : "") + ":seed=" + std::to_string(spec.seed);
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

data::synthetic::Split parse_split(const std::string& name) {
  using data::synthetic::Split;
  static constexpr Spelling<Split> kSplits[] = {{Split::Train, "train"}, {Split::Validation, "validation"},
                                                 {Split::Test, "test"}};
  return parse_spelling(kSplits, name, "--split");
}

SequenceSet load_sequences(const SequenceSpec& spec, int64_t vocab_size) {
  if (spec.samples <= 0) fail("--samples must be positive, got ", spec.samples);
  if (spec.source == "synthetic") return synthetic_set(spec, vocab_size);
  if (spec.seq_len < 2) fail("--seq-len must be at least 2, got ", spec.seq_len);
  return corpus_set(spec, vocab_size);
}

}  // namespace hybridize::train
