#pragma once
// A read-only memory map of a whole file. Large checkpoints are read through
// the page cache instead of being copied into memory.
#include <cstddef>
#include <filesystem>
#include <span>
#include <string>

namespace hybridize {

class MappedFile {
 public:
  // Throws Error naming the path when it is missing, not a regular file (a
  // directory, FIFO, device: never blocks on one) or unreadable.
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::span<const std::byte> bytes() const { return {data_, size_}; }
  std::size_t size() const { return size_; }

 private:
  std::filesystem::path path_;
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

// The whole file's bytes (config files, small JSON and text), with MappedFile's checks.
std::string read_whole_file(const std::filesystem::path& path);

}  // namespace hybridize
