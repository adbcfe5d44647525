#include "cli/job.h"

#include "dist/environment.h"
#include "search/device.h"

namespace hybridize::cli {

Job join_job(const std::string& device_flag) {
  const auto env = dist::read_environment();
  const auto device = dist::rank_device(env, search::parse_device(device_flag));
  return {std::make_shared<dist::ProcessGroup>(env, device), device.str()};
}

}  // namespace hybridize::cli
