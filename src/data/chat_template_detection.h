#pragma once
// `--chat-template auto`: recognises which of hybridize's chat formats
// (chat_template.h) a model's Jinja chat template writes, by its markers,
// rather than interpreting the Jinja.
#include <filesystem>
#include <string>
#include <string_view>

#include "data/chat_template.h"

namespace hybridize::data {

// Reads "chat_template" of a tokenizer_config.json (a string, or a list of named
// templates of which "default" is taken; or chat_template.jinja beside the file).
// Throws Error naming the file when there is none or it is not recognised.
ChatTemplate detect_chat_template(const std::filesystem::path& tokenizer_config);

// The same for the template text itself; `where` names its source in errors.
ChatTemplate detect_chat_template_text(std::string_view jinja, const std::string& where);

}  // namespace hybridize::data
