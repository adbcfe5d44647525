#pragma once
// A scope in which LibTorch's autocast runs eligible ops (matmuls, attention)
// of one device type in a lower precision while parameters stay fp32 (mixed-
// precision training with fp32 master weights). LibTorch C++ has no guard for
// it; this one restores the previous state and, leaving the outermost region,
// drops autocast's cache of casted weights (they change with every step).
#include <ATen/ATen.h>

namespace hybridize::model {

struct AutocastState {
  bool enabled = false;
  at::ScalarType dtype = at::kBFloat16;

  // The calling thread's autocast state for `device`.
  static AutocastState current(at::DeviceType device);
};

// The dtype for a result whose every consumer autocast would run in its own
// dtype (a projection, attention): that dtype where autocast is on for
// `device` and `natural` is fp32, else `natural`. Writing it directly saves
// the consumers' casts and gives them the same values.
at::ScalarType consumed_dtype(at::DeviceType device, at::ScalarType natural);

class AutocastRegion {
 public:
  AutocastRegion(at::DeviceType device, AutocastState state);
  ~AutocastRegion();
  AutocastRegion(const AutocastRegion&) = delete;
  AutocastRegion& operator=(const AutocastRegion&) = delete;

 private:
  at::DeviceType device_;
  AutocastState previous_;
};

}  // namespace hybridize::model
