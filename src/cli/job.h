#pragma once
// This process's place in a job launched by torchrun or Slurm (dist/environment.h):
// its rank's process group and device (cuda:LOCAL_RANK when the job runs on
// GPUs). A process started alone gets a group of one.
#include <memory>
#include <string>

#include "dist/process_group.h"

namespace hybridize::cli {

struct Job {
  std::shared_ptr<dist::ProcessGroup> group;
  std::string device;  // for --device: the rank's own
};

// Joins the job on the device `--device` names; throws Error naming a bad
// launcher variable, or a peer that does not come.
Job join_job(const std::string& device_flag);

// For commands that run alone: under a launcher's job of several ranks each
// rank would do the whole work against the same files, so they refuse.
void refuse_job(const std::string& command);

}  // namespace hybridize::cli
