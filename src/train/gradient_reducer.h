#pragma once
// Data-parallel gradient averaging: every rank backpropagates its share of the
// global batch, then the ranks' gradients are summed (each rank's loss is
// already divided by the global batch's token count, so the sum is the
// single-process gradient). Parameters are grouped into buckets of about
// `bucket_bytes`, in reverse registration order (roughly the order backward
// produces their gradients); a hook after each gradient's accumulation copies
// it into its bucket, and a full bucket's all-reduce starts at once, while
// backward goes on. Buckets start in index order on every rank (collectives
// must match across ranks) even when their gradients arrive in another order.
#include <ATen/ATen.h>

#include <memory>
#include <vector>

#include "dist/process_group.h"

namespace hybridize::train {

class GradientReducer {
 public:
  GradientReducer(std::vector<at::Tensor> parameters, std::shared_ptr<const dist::ProcessGroup> group,
                  int64_t bucket_bytes);
  ~GradientReducer();  // removes the hooks
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // The next backward pass is the step's last micro-batch: reduce its (accumulated) gradients.
  void arm();
  // After that backward: starts the buckets still waiting (parameters that got
  // no gradient add zeros), waits for all, and writes the sums back to .grad.
  void finish();

 private:
  struct Bucket {
    std::vector<std::size_t> members;  // indices into parameters_
    std::vector<int64_t> offsets;      // of each member in `flat`
    at::Tensor flat;
    std::size_t arrived = 0;
    dist::PendingCollective pending;
  };
  void on_gradient(std::size_t parameter);
  void start_ready_buckets();

  std::vector<at::Tensor> parameters_;
  std::shared_ptr<const dist::ProcessGroup> group_;
  std::vector<Bucket> buckets_;
  std::vector<std::size_t> bucket_of_, slot_of_;  // per parameter
  std::vector<bool> arrived_;                     // per parameter, this backward
  std::size_t next_to_start_ = 0;
  bool armed_ = false;
};

}  // namespace hybridize::train
