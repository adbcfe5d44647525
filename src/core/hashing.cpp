#include "core/hashing.h"

// Header-only use: the GPU machine has no libxxhash, only the carried header.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <cstdio>

#include "core/error.h"
#include "core/mapped_file.h"

namespace hybridize {

struct ContentHasher::State {
  XXH3_state_t xxh;
};

ContentHasher::ContentHasher() : state_(std::make_unique<State>()) { XXH3_128bits_reset(&state_->xxh); }
ContentHasher::~ContentHasher() = default;

void ContentHasher::update(const void* data, std::size_t size) { XXH3_128bits_update(&state_->xxh, data, size); }

void ContentHasher::update_file(const std::filesystem::path& path) {
  const MappedFile file(path);
  const uint64_t size = file.size();
  update(&size, sizeof size);
  update(file.bytes().data(), file.size());
}

std::string ContentHasher::hex_digest() const {
  const XXH128_hash_t hash = XXH3_128bits_digest(&state_->xxh);
  char text[33];
  std::snprintf(text, sizeof text, "%016llx%016llx", (unsigned long long)hash.high64, (unsigned long long)hash.low64);
  return text;
}

std::string hash_text(std::string_view text) {
  ContentHasher hasher;
  hasher.update(text);
  return hasher.hex_digest();
}

}  // namespace hybridize
