#include "data/sequence_spec.h"

#include "core/spelling.h"

namespace hybridize::data {

synthetic::Split parse_split(const std::string& name) {
  using synthetic::Split;
  static constexpr Spelling<Split> kSplits[] = {
      {Split::Train, "train"}, {Split::Validation, "validation"}, {Split::Test, "test"}};
  return parse_spelling(kSplits, name, "--split");
}

}  // namespace hybridize::data
