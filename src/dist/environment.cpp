#include "dist/environment.h"

#include <cstdlib>
#include <limits>

#include "core/error.h"

namespace hybridize::dist {

namespace {

int parse_integer(const std::string& name, const std::string& text, long long low, long long high) {
  std::size_t used = 0;
  long long value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (text.empty() || used != text.size()) fail(name, "='", text, "' is not an integer");
  if (value < low || value > high) fail(name, "=", value, " must lie in [", low, ", ", high, "]");
  return static_cast<int>(value);
}

struct Reader {
  const VariableLookup& lookup;
  std::optional<int> integer(const std::string& name, long long low,
                             long long high = std::numeric_limits<int>::max()) const {
    const auto text = lookup(name);
    if (!text) return std::nullopt;
    return parse_integer(name, *text, low, high);
  }
  int required(const std::string& name, const std::string& because, long long low,
               long long high = std::numeric_limits<int>::max()) const {
    const auto value = integer(name, low, high);
    if (!value) fail(name, " is not set, but ", because, " is");
    return *value;
  }
};

}  // namespace

Environment read_environment(const VariableLookup& lookup) {
  const Reader read{lookup};
  Environment env;
  const bool torchrun = lookup("RANK") || lookup("WORLD_SIZE");
  const bool slurm = !torchrun && (lookup("SLURM_PROCID") || lookup("SLURM_NTASKS"));
  if (torchrun) {
    env.launcher = "torchrun";
    env.world_size = read.required("WORLD_SIZE", "RANK", 1);
    env.rank = read.required("RANK", "WORLD_SIZE", 0);
    if (env.rank >= env.world_size) fail("RANK=", env.rank, " must be below WORLD_SIZE=", env.world_size);
    env.local_rank = read.integer("LOCAL_RANK", 0).value_or(env.rank);
    if (env.local_rank > env.rank) fail("LOCAL_RANK=", env.local_rank, " exceeds RANK=", env.rank);
  } else if (slurm) {
    env.launcher = "slurm";
    env.world_size = read.required("SLURM_NTASKS", "SLURM_PROCID", 1);
    env.rank = read.required("SLURM_PROCID", "SLURM_NTASKS", 0);
    if (env.rank >= env.world_size) fail("SLURM_PROCID=", env.rank, " must be below SLURM_NTASKS=", env.world_size);
    env.local_rank = read.required("SLURM_LOCALID", "SLURM_PROCID", 0);
    if (env.local_rank > env.rank) fail("SLURM_LOCALID=", env.local_rank, " exceeds SLURM_PROCID=", env.rank);
  }
  if (env.distributed()) {
    const auto address = lookup("MASTER_ADDR");
    if (!address || address->empty())
      fail("MASTER_ADDR is not set; ", env.world_size, " ranks need the address rank 0 listens on");
    env.master_address = *address;
    env.master_port = read.integer("MASTER_PORT", 1, 65535).value_or(env.master_port);
  }
  if (const auto seconds = read.integer("HYBRIDIZE_DIST_TIMEOUT", 1)) env.timeout = std::chrono::seconds(*seconds);
  return env;
}

Environment read_environment() {
  return read_environment([](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (!value) return std::nullopt;
    return std::string(value);
  });
}

}  // namespace hybridize::dist
