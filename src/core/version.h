#pragma once
#include <string_view>

namespace hybridize {

// "0.1.0+<git describe>" as configured; stored with every run for provenance.
std::string_view code_version();

}  // namespace hybridize
