#pragma once
// Reading the components of a tokenizer.json (normalizer, pre_tokenizer,
// decoder): each is one step or a Sequence of steps, each step an object with a
// "type". Errors name the file and the JSON key.
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace hybridize::data {

// The steps of component `json` found under key `root`: the elements of its
// `list_key` array when it is a Sequence, else the component itself; each with
// its key ("decoder.decoders[2]").
std::vector<std::pair<nlohmann::json, std::string>> component_steps(const nlohmann::json& json, const std::string& root,
                                                                    const char* list_key, const std::string& source);

// A step's "type".
std::string step_type(const nlohmann::json& step, const std::string& key, const std::string& source);

// The string member `name` of `object` (at `key`).
std::string string_member(const nlohmann::json& object, const char* name, const std::string& key,
                          const std::string& source);

// A Replace step's pattern, which must be a non-empty {"String": "..."}.
std::string string_pattern(const nlohmann::json& step, const std::string& key, const std::string& source);

}  // namespace hybridize::data
