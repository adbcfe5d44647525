#pragma once
// Whole-directory operations, written on POSIX calls rather than
// std::filesystem: libtorch.so exports its own copy of std::filesystem whose
// directory walkers (remove_all, recursive copy) crash, and whether a binary
// binds to it depends on link order (README, notes for developers).
#include <filesystem>

namespace hybridize {

// Removes `path` and everything below it; a missing path is not an error.
void remove_tree(const std::filesystem::path& path);
// Copies the directory `from` to `to` (which must not exist), recursively.
void copy_tree(const std::filesystem::path& from, const std::filesystem::path& to);
// Creates `path` and its missing parents.
void make_directories(const std::filesystem::path& path);

}  // namespace hybridize
