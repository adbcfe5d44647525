#pragma once
// Which token sequences a scorer, probe or stage works on: a split of the
// built-in synthetic task, or samples of a pre-tokenized corpus. Torch-free:
// train/sequence_set turns a spec into padded tensors.
#include <cstdint>
#include <string>

#include "data/synthetic_task.h"

namespace hybridize::data {

struct SequenceSpec {
  // "synthetic" or the path of a pre-tokenized corpus (.idx/.bin, .npy, raw).
  std::string source = "synthetic";
  std::string split = "validation";  // synthetic only: train | validation | test
  int64_t samples = 128;
  int64_t offset = 0;     // corpus only: skip this many samples of the shuffled order
  int64_t seq_len = 512;  // corpus only: tokens per sample
  std::string raw_dtype;  // corpus only, for raw files: uint16 | uint32
  // corpus only: count every target even where the corpus records loss spans
  // (SFT data: assistant tokens only), instead of the spans' tokens alone.
  bool ignore_loss_spans = false;
  uint64_t seed = synthetic::kDefaultSeed;
  synthetic::TaskConfig task = synthetic::kDemoTask;  // synthetic only
};

// "train", "validation" or "test"; throws Error naming --split otherwise.
synthetic::Split parse_split(const std::string& name);

}  // namespace hybridize::data
