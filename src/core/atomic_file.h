#pragma once
// Writes a file so that a reader sees the old content or the whole new one,
// never a torn file: write a temporary beside it, fsync, rename over.
#include <cstddef>
#include <filesystem>
#include <string_view>

namespace hybridize {

class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(const std::filesystem::path& target);
  ~AtomicFileWriter();  // removes the temporary unless commit() succeeded
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(const void* data, std::size_t size);
  void write(std::string_view text) { write(text.data(), text.size()); }
  // Flushes to disk and renames the temporary onto the target.
  void commit();

 private:
  std::filesystem::path target_;
  std::filesystem::path temporary_;
  int fd_ = -1;
};

void write_file_atomically(const std::filesystem::path& target, std::string_view content);

}  // namespace hybridize
