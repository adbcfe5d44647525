#pragma once
// Content hashes for provenance: a model, a dataset or a config is identified
// by the hash of its bytes (XXH3-128, fast enough to hash a 30 GB checkpoint
// at disk speed), written as 32 hex digits.
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace hybridize {

class ContentHasher {
 public:
  ContentHasher();
  ~ContentHasher();
  ContentHasher(const ContentHasher&) = delete;
  ContentHasher& operator=(const ContentHasher&) = delete;

  void update(const void* data, std::size_t size);
  void update(std::string_view text) { update(text.data(), text.size()); }
  // Hashes a file's size and bytes (through a memory map); throws Error naming it when unreadable.
  void update_file(const std::filesystem::path& path);
  std::string hex_digest() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

std::string hash_text(std::string_view text);

}  // namespace hybridize
