#include "data/chat_template_detection.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_file.h"
#include "core/mapped_file.h"

namespace hybridize::data {

namespace {

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

// A ChatML template's hard-coded system prompt: the first literal Jinja string
// '<|im_start|>system\n...<|im_end|>' whose middle has no expression in it.
std::string chatml_default_system(std::string_view jinja) {
  for (const std::string_view open :
       {std::string_view("<|im_start|>system\\n"), std::string_view("<|im_start|>system\n")}) {
    for (std::size_t at = jinja.find(open); at != std::string_view::npos; at = jinja.find(open, at + 1)) {
      const std::size_t begin = at + open.size();
      const std::size_t end = jinja.find("<|im_end|>", begin);
      if (end == std::string_view::npos) continue;
      const std::string_view text = jinja.substr(begin, end - begin);
      if (!text.empty() && text.find_first_of("'\"{}+\\") == std::string_view::npos) return std::string(text);
    }
  }
  return "";
}

}  // namespace

ChatTemplate detect_chat_template_text(std::string_view jinja, const std::string& where) {
  if (contains(jinja, "<|im_start|>")) return {ChatFormat::ChatMl, chatml_default_system(jinja)};
  if (contains(jinja, "<|start_header_id|>")) {
    if (contains(jinja, "Cutting Knowledge Date"))
      fail(where,
           ": the Llama 3.1+ chat template adds a dated system prompt, which hybridize does not render; "
           "pass --chat-template llama3 for the Llama 3 format without it");
    return {ChatFormat::Llama3, ""};
  }
  if (contains(jinja, "[INST]")) return {ChatFormat::Mistral, ""};
  fail(where,
       ": not a chat template hybridize recognises (no <|im_start|>, <|start_header_id|> or [INST] in it); "
       "pass --chat-template chatml|qwen2|llama3|mistral");
}

ChatTemplate detect_chat_template(const std::filesystem::path& tokenizer_config) {
  const std::string file = tokenizer_config.string();
  const nlohmann::json config = read_json_file(tokenizer_config);
  const std::string where = file + ": key 'chat_template'";
  if (!config.is_object() || !config.contains("chat_template")) {
    // transformers >= 4.43 may save the template beside the config instead.
    const auto beside = tokenizer_config.parent_path() / "chat_template.jinja";
    if (std::filesystem::exists(beside)) return detect_chat_template_text(read_whole_file(beside), beside.string());
    fail(where, ": missing, so the chat format cannot be detected; pass --chat-template chatml|qwen2|llama3|mistral");
  }
  const auto& value = config.at("chat_template");
  if (value.is_string()) return detect_chat_template_text(value.get<std::string>(), where);
  if (value.is_array())
    for (const auto& entry : value)
      if (entry.is_object() && entry.value("name", "") == "default" && entry.contains("template") &&
          entry.at("template").is_string())
        return detect_chat_template_text(entry.at("template").get<std::string>(), where + " (template 'default')");
  fail(where, ": neither a string nor a list holding a template named 'default'");
}

}  // namespace hybridize::data
