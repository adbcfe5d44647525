#include "core/file_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "core/error.h"

namespace hybridize {

namespace {

int remove_entry(const char* path, const struct stat*, int, struct FTW*) { return ::remove(path) == 0 ? 0 : errno; }

void copy_file_contents(const std::string& from, const std::string& to, mode_t mode) {
  const int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) fail(from, ": cannot open: ", std::strerror(errno));
  const int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 0777);
  if (out < 0) {
    const int saved = errno;
    ::close(in);
    fail(to, ": cannot create: ", std::strerror(saved));
  }
  char buffer[1 << 16];
  for (;;) {
    const ssize_t got = ::read(in, buffer, sizeof buffer);
    if (got == 0) break;
    if (got < 0) {
      if (errno == EINTR) continue;
      const int saved = errno;
      ::close(in), ::close(out);
      fail(from, ": read failed: ", std::strerror(saved));
    }
    for (ssize_t done = 0; done < got;) {
      const ssize_t put = ::write(out, buffer + done, static_cast<std::size_t>(got - done));
      if (put < 0) {
        if (errno == EINTR) continue;
        const int saved = errno;
        ::close(in), ::close(out);
        fail(to, ": write failed: ", std::strerror(saved));
      }
      done += put;
    }
  }
  ::close(in);
  if (::close(out) != 0) fail(to, ": close failed: ", std::strerror(errno));
}

}  // namespace

void remove_tree(const std::filesystem::path& path) {
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0) {
    if (errno == ENOENT) return;
    fail(path.string(), ": cannot remove: ", std::strerror(errno));
  }
  // Depth first, not following links: children go before their directory.
  const int rc = ::nftw(path.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  if (rc != 0) fail(path.string(), ": cannot remove: ", std::strerror(rc > 0 ? rc : errno));
}

void copy_tree(const std::filesystem::path& from, const std::filesystem::path& to) {
  struct stat info {};
  if (::stat(from.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) fail(from.string(), ": not a directory");
  if (::mkdir(to.c_str(), info.st_mode & 0777) != 0) fail(to.string(), ": cannot create: ", std::strerror(errno));
  DIR* dir = ::opendir(from.c_str());
  if (dir == nullptr) fail(from.string(), ": cannot list: ", std::strerror(errno));
  while (const dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    const auto source = from / name, target = to / name;
    struct stat child {};
    if (::stat(source.c_str(), &child) != 0) {
      ::closedir(dir);
      fail(source.string(), ": cannot stat: ", std::strerror(errno));
    }
    try {
      if (S_ISDIR(child.st_mode))
        copy_tree(source, target);
      else
        copy_file_contents(source.string(), target.string(), child.st_mode);
    } catch (...) {
      ::closedir(dir);
      throw;
    }
  }
  ::closedir(dir);
}

void make_directories(const std::filesystem::path& path) {
  std::filesystem::path partial;
  for (const auto& part : path) {
    partial /= part;
    if (::mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST)
      fail(partial.string(), ": cannot create directory: ", std::strerror(errno));
  }
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) fail(path.string(), ": not a directory");
}

}  // namespace hybridize
