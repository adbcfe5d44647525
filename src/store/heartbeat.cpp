#include "store/heartbeat.h"

#include "core/log.h"
#include "store/results_store.h"

namespace hybridize::store {

HeartbeatThread::HeartbeatThread(std::filesystem::path database, std::string worker, std::vector<int64_t> probe_ids,
                                 std::chrono::seconds interval)
    : database_(std::move(database)),
      worker_(std::move(worker)),
      probe_ids_(std::move(probe_ids)),
      interval_(interval) {
  thread_ = std::thread([this] { beat(); });
}

HeartbeatThread::~HeartbeatThread() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  stop_signal_.notify_all();
  thread_.join();
}

void HeartbeatThread::beat() {
  std::unique_lock lock(mutex_);
  while (!stop_signal_.wait_for(lock, interval_, [this] { return stopping_; })) {
    try {
      ResultsStore(database_).heartbeat(probe_ids_, worker_);
    } catch (const std::exception& error) {  // a missed beat is not fatal; the next one may pass
      log_warning("heartbeat: ", error.what());
    }
  }
}

}  // namespace hybridize::store
