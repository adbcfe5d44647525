// Reading a job's rank and world from torchrun's or Slurm's variables, and the
// errors that name the variable at fault.
#include <map>

#include "catch.h"
#include "dist/environment.h"
#include "dist/process_group.h"

using namespace hybridize;

namespace {
dist::Environment read(const std::map<std::string, std::string>& variables) {
  return dist::read_environment([&](const std::string& name) -> std::optional<std::string> {
    const auto found = variables.find(name);
    if (found == variables.end()) return std::nullopt;
    return found->second;
  });
}
}  // namespace

TEST_CASE("no launcher variables: a single process", "[dist]") {
  const auto env = read({});
  CHECK(env.rank == 0);
  CHECK(env.world_size == 1);
  CHECK_FALSE(env.distributed());
  CHECK(env.launcher == "none");
}

TEST_CASE("torchrun variables", "[dist]") {
  const auto env = read({{"RANK", "3"},
                         {"WORLD_SIZE", "4"},
                         {"LOCAL_RANK", "1"},
                         {"MASTER_ADDR", "node7"},
                         {"MASTER_PORT", "1234"},
                         {"HYBRIDIZE_DIST_TIMEOUT", "42"}});
  CHECK(env.launcher == "torchrun");
  CHECK(env.rank == 3);
  CHECK(env.world_size == 4);
  CHECK(env.local_rank == 1);
  CHECK(env.master_address == "node7");
  CHECK(env.master_port == 1234);
  CHECK(env.timeout == std::chrono::seconds(42));
  CHECK(dist::rank_device(env, at::Device("cuda")) == at::Device("cuda:1"));
  CHECK(dist::rank_device(env, at::Device("cuda:0")) == at::Device("cuda:0"));  // asked for explicitly
  CHECK(dist::rank_device(env, at::Device("cpu")) == at::Device("cpu"));
}

TEST_CASE("Slurm variables, and torchrun's first when both are set", "[dist]") {
  const auto slurm =
      read({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "8"}, {"SLURM_LOCALID", "1"}, {"MASTER_ADDR", "n0"}});
  CHECK(slurm.launcher == "slurm");
  CHECK(slurm.rank == 5);
  CHECK(slurm.world_size == 8);
  CHECK(slurm.local_rank == 1);
  CHECK(slurm.master_port == 29500);  // the documented default
  const auto both =
      read({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "8"}, {"SLURM_LOCALID", "1"}, {"RANK", "0"}, {"WORLD_SIZE", "1"}});
  CHECK(both.launcher == "torchrun");
  CHECK_FALSE(both.distributed());
}

TEST_CASE("inconsistent or invalid launcher variables are named", "[dist]") {
  REQUIRE_ERROR(read({{"RANK", "0"}}), "WORLD_SIZE is not set, but RANK is");
  REQUIRE_ERROR(read({{"WORLD_SIZE", "2"}}), "RANK is not set, but WORLD_SIZE is");
  REQUIRE_ERROR(read({{"RANK", "2"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "a"}}), "RANK=2 must be below WORLD_SIZE=2");
  REQUIRE_ERROR(read({{"RANK", "0"}, {"WORLD_SIZE", "2x"}}), "WORLD_SIZE='2x' is not an integer");
  REQUIRE_ERROR(read({{"RANK", "-1"}, {"WORLD_SIZE", "2"}}), "RANK=-1 must lie in [0,");
  REQUIRE_ERROR(read({{"RANK", "0"}, {"WORLD_SIZE", "0"}}), "WORLD_SIZE=0 must lie in [1,");
  REQUIRE_ERROR(read({{"RANK", "1"}, {"WORLD_SIZE", "2"}}), "MASTER_ADDR is not set");
  REQUIRE_ERROR(read({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "a"}, {"MASTER_PORT", "70000"}}),
                "MASTER_PORT=70000 must lie in [1, 65535]");
  REQUIRE_ERROR(read({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}, {"MASTER_ADDR", "a"}}),
                "SLURM_LOCALID is not set, but SLURM_PROCID is");
  REQUIRE_ERROR(read({{"SLURM_PROCID", "2"}, {"SLURM_NTASKS", "2"}, {"SLURM_LOCALID", "0"}}),
                "SLURM_PROCID=2 must be below SLURM_NTASKS=2");
  REQUIRE_ERROR(read({{"HYBRIDIZE_DIST_TIMEOUT", "0"}}), "HYBRIDIZE_DIST_TIMEOUT=0 must lie in [1,");
}

TEST_CASE("a group of one process needs no peers and leaves tensors as they are", "[dist]") {
  const dist::ProcessGroup group(read({}), at::Device("cpu"));
  CHECK(group.is_leader());
  auto tensor = at::arange(4, at::kFloat);
  group.all_reduce_sum(tensor);
  group.broadcast(tensor, 0);
  group.barrier();
  CHECK(at::equal(tensor, at::arange(4, at::kFloat)));
  const auto gathered = group.all_gather(tensor);
  REQUIRE(gathered.size() == 1);
  CHECK(at::equal(gathered[0], tensor));
}
