#include "cli/layer_list.h"

#include <charconv>
#include <sstream>

#include "core/error.h"

namespace hybridize::cli {

namespace {
// Bounds every number before a range is expanded, so "0-99999999999" fails at
// once instead of filling memory; the caller checks against the model's own count.
constexpr int64_t kMostLayers = 100000;

int64_t parse_layer(const std::string& text, const std::string& item, const std::string& flag) {
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || end != text.data() + text.size() || value < 0 ||
      (error != std::errc() && error != std::errc::result_out_of_range))
    fail(flag, ": '", item, "' is not a layer number or range (like 3 or 7-9)");
  if (error == std::errc::result_out_of_range || value >= kMostLayers)
    fail(flag, ": '", item, "' goes beyond ", kMostLayers - 1, ", more layers than any model has");
  return value;
}
}  // namespace

std::vector<int64_t> parse_layer_list(const std::string& text, const std::string& flag) {
  std::vector<int64_t> layers;
  std::stringstream items(text);
  std::string item;
  while (std::getline(items, item, ',')) {
    const auto dash = item.find('-');
    if (dash == std::string::npos) {
      layers.push_back(parse_layer(item, item, flag));
      continue;
    }
    const int64_t first = parse_layer(item.substr(0, dash), item, flag);
    const int64_t last = parse_layer(item.substr(dash + 1), item, flag);
    if (last < first) fail(flag, ": range '", item, "' runs backwards");
    for (int64_t layer = first; layer <= last; ++layer) layers.push_back(layer);
  }
  if (layers.empty()) fail(flag, ": no layers given");
  return layers;
}

std::vector<std::string> parse_names(const std::string& text) {
  std::vector<std::string> names;
  std::stringstream items(text);
  std::string item;
  while (std::getline(items, item, ','))
    if (!item.empty()) names.push_back(item);
  return names;
}

}  // namespace hybridize::cli
