#include "infer/sampling.h"

#include <limits>

namespace hybridize::infer {

namespace {

// Hashes stay inside 31 bits so that every product below fits in int64 on any device.
constexpr int64_t kMask31 = (int64_t(1) << 31) - 1;
constexpr int64_t kMixer = 0x45d9f3b;         // a well-mixing odd multiplier for 32-bit integer hashes
constexpr int64_t kVocabStride = 0x9E3779B1;  // 2^32 / golden ratio: spreads neighbouring ids apart

at::Tensor mix31(at::Tensor x) {
  x = x.bitwise_xor(x.bitwise_right_shift(16));
  x = x.mul(kMixer).bitwise_and_(kMask31);
  x = x.bitwise_xor(x.bitwise_right_shift(15));
  x = x.mul(kMixer).bitwise_and_(kMask31);
  return x.bitwise_xor(x.bitwise_right_shift(16));
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Gumbel noise [rows, vocab], float32, from each row's key and the vocabulary id.
at::Tensor gumbel_noise(const at::Tensor& keys, int64_t vocab) {
  const auto ids = at::arange(vocab, keys.options()).mul_(kVocabStride).bitwise_and_(kMask31);
  const auto hashed = mix31(keys.unsqueeze(1).bitwise_xor(ids.unsqueeze(0)));
  // 24 bits of the hash make a uniform draw strictly inside (0, 1).
  const auto uniform = hashed.bitwise_right_shift(7).to(at::kFloat).add_(0.5).div_(double(1 << 24));
  return uniform.log_().neg_().log_().neg_();
}

}  // namespace

int64_t draw_stream(uint64_t seed, uint64_t request_seed) {
  return int64_t(splitmix64(splitmix64(seed) ^ request_seed) & uint64_t(kMask31));
}

at::Tensor draw_keys(const at::Tensor& streams, const at::Tensor& positions) {
  return mix31(streams.bitwise_xor(mix31(positions.bitwise_and(kMask31))));
}

at::Tensor sample_next_tokens(const at::Tensor& logits, double temperature, double top_p, const at::Tensor& keys) {
  if (temperature == 0) return logits.argmax(-1);
  auto scores = logits.to(at::kFloat) / temperature;
  if (top_p < 1) {
    auto [sorted, order] = at::softmax(scores, -1).sort(-1, /*descending=*/true);
    const auto outside = (sorted.cumsum(-1) - sorted).ge(top_p);
    scores.masked_fill_(at::zeros_like(outside).scatter_(-1, order, outside), -std::numeric_limits<float>::infinity());
  }
  return scores.add_(gumbel_noise(keys, logits.size(-1))).argmax(-1);
}

}  // namespace hybridize::infer
