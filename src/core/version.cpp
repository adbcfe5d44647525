#include "core/version.h"

namespace hybridize {

std::string_view code_version() { return HYBRIDIZE_CODE_VERSION; }

}  // namespace hybridize
