#include "train/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <regex>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/file_tree.h"
#include "core/json_file.h"
#include "core/mapped_file.h"
#include "io/checkpoint_files.h"
#include "model/weights.h"

namespace hybridize::train {

namespace fs = std::filesystem;

namespace {
const std::regex kCheckpointName("step-[0-9]+");

std::string checkpoint_name(int64_t step) {
  char name[32];
  std::snprintf(name, sizeof name, "step-%06lld", static_cast<long long>(step));
  return name;
}

// Makes a directory's entries (renames into it) durable.
void sync_directory(const fs::path& directory) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail(directory.string(), ": cannot open to sync");
  ::fsync(fd);
  ::close(fd);
}

std::string read_latest(const fs::path& file) {
  std::string text = read_whole_file(file);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}
}  // namespace

CheckpointDirectory::CheckpointDirectory(fs::path root) : root_(std::move(root)) {}

std::optional<fs::path> CheckpointDirectory::latest() const {
  const auto pointer = root_ / "latest";
  if (!fs::exists(pointer)) return std::nullopt;
  const auto name = read_latest(pointer);
  if (!std::regex_match(name, kCheckpointName))
    fail(pointer.string(), ": expected a checkpoint name like step-000120, got '", name, "'");
  const auto checkpoint = root_ / name;
  for (const char* part : {"state.json", "optimizer.pt", "model/config.json"})
    if (!fs::exists(checkpoint / part)) fail(pointer.string(), ": checkpoint ", name, " has no ", part);
  return checkpoint;
}

fs::path CheckpointDirectory::save(int64_t step, model::CausalLMImpl& model, const std::string& optimizer_state,
                                   const nlohmann::json& state) const {
  make_directories(root_);
  const auto name = checkpoint_name(step);
  const auto partial = root_ / ("." + name + ".partial");
  remove_tree(partial);
  make_directories(partial);
  model::save_causal_lm(model, partial / "model");
  write_file_atomically(partial / "optimizer.pt", optimizer_state);
  write_file_atomically(partial / "state.json", state.dump(2) + "\n");
  sync_directory(partial);
  const auto target = root_ / name;
  remove_tree(target);  // a step saved again after a resume
  if (::rename(partial.c_str(), target.c_str()) != 0) fail(target.string(), ": cannot move the checkpoint into place");
  sync_directory(root_);
  write_file_atomically(root_ / "latest", name + "\n");
  // Only now is anything older unneeded.
  for (const auto& entry : fs::directory_iterator(root_)) {
    const auto entry_name = entry.path().filename().string();
    const bool old = std::regex_match(entry_name, kCheckpointName) && entry_name != name;
    const bool leftover = entry_name.starts_with(".step-") && entry_name.ends_with(".partial");
    if (old || leftover) remove_tree(entry.path());
  }
  return target;
}

nlohmann::json CheckpointDirectory::restore(const fs::path& checkpoint, model::CausalLMImpl& model,
                                            Optimizer& optimizer) {
  const io::CheckpointFiles files(checkpoint / "model");
  const auto unused = model::load_trained_parameters(model, files);
  if (!unused.empty()) fail((checkpoint / "model").string(), ": tensor ", unused.front(), " belongs to no parameter");
  optimizer.load(checkpoint / "optimizer.pt");
  return read_json_file(checkpoint / "state.json");
}

}  // namespace hybridize::train
