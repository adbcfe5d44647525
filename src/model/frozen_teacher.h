#pragma once
// The teacher that scoring, distillation and benchmarks measure against:
// loaded on the device and in the precision the flags name, in eval mode,
// with no parameter requiring a gradient.
#include <filesystem>
#include <string>

#include "model/weights.h"

namespace hybridize::model {

struct FrozenTeacher {
  CausalLM model;
  LoadOptions load;  // its device and precision: models derived from it (stages' students) load alike
};

// `device` as --device takes it ("cpu", "cuda", "cuda:N"), `precision` as
// --dtype ("fp32", "bf16", "fp16"); throws Error naming the flag or the file.
FrozenTeacher load_frozen_teacher(const std::filesystem::path& directory, const std::string& device,
                                  const std::string& precision);

}  // namespace hybridize::model
