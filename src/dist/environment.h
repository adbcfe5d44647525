#pragma once
// Where this process stands in a multi-process job, read from the variables a
// launcher sets: torchrun's (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
// MASTER_PORT) or, without them, Slurm's (SLURM_PROCID, SLURM_NTASKS,
// SLURM_LOCALID; MASTER_ADDR is still needed, MASTER_PORT defaults to 29500).
// No variables at all: a single process. HYBRIDIZE_DIST_TIMEOUT (seconds,
// default 1800) bounds every wait for a peer, so a missing rank fails instead of
// hanging forever.
#include <chrono>
#include <functional>
#include <optional>
#include <string>

namespace hybridize::dist {

struct Environment {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;  // the GPU this rank uses on its node: cuda:LOCAL_RANK
  std::string master_address = "127.0.0.1";
  int master_port = 29500;
  std::chrono::milliseconds timeout{std::chrono::seconds(1800)};
  std::string launcher = "none";  // "torchrun", "slurm" or "none"

  bool distributed() const { return world_size > 1; }
};

// A variable's value, or nothing when it is unset.
using VariableLookup = std::function<std::optional<std::string>(const std::string& name)>;

// Throws Error naming the variable when one is missing, not an integer, or
// inconsistent with the others (RANK >= WORLD_SIZE, ...).
Environment read_environment(const VariableLookup& lookup);
Environment read_environment();  // this process's environment

}  // namespace hybridize::dist
