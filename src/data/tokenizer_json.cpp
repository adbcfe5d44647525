#include "data/tokenizer_json.h"

#include "core/error.h"

namespace hybridize::data {

std::vector<std::pair<nlohmann::json, std::string>> component_steps(const nlohmann::json& json, const std::string& root,
                                                                    const char* list_key, const std::string& source) {
  std::vector<std::pair<nlohmann::json, std::string>> steps;
  if (step_type(json, root, source) != "Sequence") {
    steps.emplace_back(json, root);
    return steps;
  }
  if (!json.contains(list_key) || !json.at(list_key).is_array())
    fail(source, ": key '", root, ".", list_key, "': missing or not an array");
  const auto& list = json.at(list_key);
  for (std::size_t i = 0; i < list.size(); ++i)
    steps.emplace_back(list[i], root + "." + list_key + "[" + std::to_string(i) + "]");
  return steps;
}

std::string step_type(const nlohmann::json& step, const std::string& key, const std::string& source) {
  if (!step.is_object() || !step.contains("type") || !step.at("type").is_string())
    fail(source, ": key '", key, ".type': missing; expected an object with a \"type\"");
  return step.at("type").get<std::string>();
}

std::string string_member(const nlohmann::json& object, const char* name, const std::string& key,
                          const std::string& source) {
  if (!object.is_object() || !object.contains(name) || !object.at(name).is_string())
    fail(source, ": key '", key, ".", name, "': missing or not a string");
  return object.at(name).get<std::string>();
}

std::string string_pattern(const nlohmann::json& step, const std::string& key, const std::string& source) {
  if (!step.contains("pattern") || !step.at("pattern").is_object() || !step.at("pattern").contains("String"))
    fail(source, ": key '", key, ".pattern': only {\"String\": \"...\"} patterns are supported, got ",
         step.value("pattern", nlohmann::json()).dump());
  const std::string pattern = string_member(step.at("pattern"), "String", key + ".pattern", source);
  if (pattern.empty()) fail(source, ": key '", key, ".pattern.String': must not be empty");
  return pattern;
}

}  // namespace hybridize::data
