#include "model/autocast_region.h"

#include <ATen/autocast_mode.h>

namespace hybridize::model {

AutocastState AutocastState::current(at::DeviceType device) {
  return {at::autocast::is_autocast_enabled(device), at::autocast::get_autocast_dtype(device)};
}

at::ScalarType consumed_dtype(at::DeviceType device, at::ScalarType natural) {
  const auto state = AutocastState::current(device);
  return state.enabled && natural == at::kFloat ? state.dtype : natural;
}

AutocastRegion::AutocastRegion(at::DeviceType device, AutocastState state)
    : device_(device), previous_(AutocastState::current(device)) {
  at::autocast::set_autocast_enabled(device_, state.enabled);
  at::autocast::set_autocast_dtype(device_, state.dtype);
  at::autocast::increment_nesting();
}

AutocastRegion::~AutocastRegion() {
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::autocast::set_autocast_enabled(device_, previous_.enabled);
  at::autocast::set_autocast_dtype(device_, previous_.dtype);
}

}  // namespace hybridize::model
