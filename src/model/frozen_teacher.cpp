#include "model/frozen_teacher.h"

#include "model/device.h"

namespace hybridize::model {

FrozenTeacher load_frozen_teacher(const std::filesystem::path& directory, const std::string& device,
                                  const std::string& precision) {
  LoadOptions load;
  load.dtype = parse_precision(precision);
  load.device = parse_device(device);
  auto teacher = load_causal_lm(directory, load);  // in eval mode
  for (auto& parameter : teacher->parameters()) parameter.set_requires_grad(false);
  return {teacher, load};
}

}  // namespace hybridize::model
