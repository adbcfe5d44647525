#pragma once
// Keeps a worker's claimed probes alive while it works: a thread that updates
// their heartbeat every `interval` through its own database connection, so a
// long batch or probe is not mistaken for a dead worker's.
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

namespace hybridize::store {

class HeartbeatThread {
 public:
  HeartbeatThread(std::filesystem::path database, std::string worker, std::vector<int64_t> probe_ids,
                  std::chrono::seconds interval);
  ~HeartbeatThread();  // stops and joins
  HeartbeatThread(const HeartbeatThread&) = delete;
  HeartbeatThread& operator=(const HeartbeatThread&) = delete;

 private:
  void beat();

  std::filesystem::path database_;
  std::string worker_;
  std::vector<int64_t> probe_ids_;
  std::chrono::seconds interval_;
  std::mutex mutex_;
  std::condition_variable stop_signal_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace hybridize::store
