#include "data/post_processor.h"

#include "core/error.h"

namespace hybridize::data {

namespace {

std::string type_of(const nlohmann::json& json, const std::string& source, const std::string& key) {
  if (!json.is_object() || !json.contains("type") || !json.at("type").is_string())
    fail(source, ": key '", key, ".type': missing; expected an object with a \"type\"");
  return json.at("type").get<std::string>();
}

}  // namespace

PostProcessor::PostProcessor(const nlohmann::json& json, const std::string& source) {
  const std::string root = "post_processor";
  if (json.is_null()) return;
  std::vector<std::pair<nlohmann::json, std::string>> steps;
  if (type_of(json, source, root) == "Sequence") {
    if (!json.contains("processors") || !json.at("processors").is_array())
      fail(source, ": key '", root, ".processors': missing or not an array");
    const auto& list = json.at("processors");
    for (size_t i = 0; i < list.size(); ++i)
      steps.emplace_back(list[i], root + ".processors[" + std::to_string(i) + "]");
  } else {
    steps.emplace_back(json, root);
  }
  bool have_template = false;
  for (const auto& [step, key] : steps) {
    const std::string type = type_of(step, source, key);
    if (type == "ByteLevel") continue;  // it only adjusts offsets
    if (type != "TemplateProcessing")
      fail(source, ": key '", key, ".type': '", type,
           "' is not supported (supported: TemplateProcessing, ByteLevel, Sequence of them)");
    if (have_template) fail(source, ": key '", key, "': more than one TemplateProcessing is not supported");
    have_template = true;
    read_template(step, source, key);
  }
}

void PostProcessor::read_template(const nlohmann::json& json, const std::string& source, const std::string& key) {
  const auto bad = [&](const std::string& sub, const std::string& why) {
    fail(source, ": key '", key, sub, "': ", why);
  };
  if (!json.contains("single") || !json.at("single").is_array()) bad(".single", "missing or not an array");
  const nlohmann::json specials = json.value("special_tokens", nlohmann::json::object());
  bool seen_sequence = false;
  for (const auto& piece : json.at("single")) {
    if (piece.contains("Sequence")) {
      if (piece.at("Sequence").value("id", std::string()) != "A")
        bad(".single", "a single-sequence template may hold only $A, got " + piece.dump());
      if (seen_sequence) bad(".single", "$A appears twice");
      seen_sequence = true;
    } else if (piece.contains("SpecialToken") && piece.at("SpecialToken").contains("id") &&
               piece.at("SpecialToken").at("id").is_string()) {
      const auto name = piece.at("SpecialToken").at("id").get<std::string>();
      if (!specials.contains(name) || !specials.at(name).contains("ids") || !specials.at(name).at("ids").is_array())
        bad(".special_tokens", "'" + name + "' is used in the template but has no ids");
      for (const auto& id : specials.at(name).at("ids")) {
        if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX)
          bad(".special_tokens", "'" + name + "' has a bad id " + id.dump());
        (seen_sequence ? suffix_ : prefix_).push_back(id.get<int32_t>());
      }
    } else {
      bad(".single", "unknown template piece " + piece.dump());
    }
  }
  if (!seen_sequence) bad(".single", "has no $A");
}

void PostProcessor::apply(std::vector<int32_t>& ids) const {
  ids.insert(ids.begin(), prefix_.begin(), prefix_.end());
  ids.insert(ids.end(), suffix_.begin(), suffix_.end());
}

std::optional<int32_t> PostProcessor::bos_id() const {
  if (prefix_.size() != 1) return std::nullopt;
  return prefix_.front();
}

std::optional<int32_t> PostProcessor::eos_id() const {
  if (suffix_.size() != 1) return std::nullopt;
  return suffix_.front();
}

}  // namespace hybridize::data
