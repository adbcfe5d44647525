#include "cli/job.h"

#include "core/error.h"
#include "dist/environment.h"
#include "model/device.h"

namespace hybridize::cli {

Job join_job(const std::string& device_flag) {
  const auto env = dist::read_environment();
  const auto device = dist::rank_device(env, model::parse_device(device_flag));
  return {std::make_shared<dist::ProcessGroup>(env, device), device.str()};
}

void refuse_job(const std::string& command) {
  const auto env = dist::read_environment();
  if (env.distributed())
    fail(command, " runs as one process, but ", env.launcher, " started ", env.world_size,
         " ranks (WORLD_SIZE/SLURM_NTASKS); launch `hybridize score` and `hybridize distill` under it instead");
}

}  // namespace hybridize::cli
