#include "data/jsonl_examples.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_file.h"
#include "core/log.h"
#include "core/mapped_file.h"
#include "data/jsonl_lines.h"

namespace hybridize::data {

namespace {

const std::string& string_field(const nlohmann::json& object, const char* key, const std::string& where) {
  const auto it = object.find(key);
  if (it == object.end()) fail(where, "missing \"", key, "\"");
  if (!it->is_string()) fail(where, "\"", key, "\" is not a string");
  return it->get_ref<const std::string&>();
}

}  // namespace

ChatExample parse_chat_example(std::string_view line) {
  const nlohmann::json value = parse_json(line, "");
  if (!value.is_object()) fail("not a JSON object");

  ChatExample example;
  const bool has_messages = value.contains("messages");
  const bool has_prompt = value.contains("prompt") || value.contains("response");
  if (has_messages == has_prompt) fail("needs either \"messages\" or \"prompt\" and \"response\"");
  if (has_messages) {
    const auto& messages = value["messages"];
    if (!messages.is_array()) fail("\"messages\" is not an array");
    for (std::size_t i = 0; i < messages.size(); ++i) {
      const std::string where = "message " + std::to_string(i) + ": ";
      if (!messages[i].is_object()) fail(where, "not an object");
      ChatTurn turn{string_field(messages[i], "role", where), string_field(messages[i], "content", where)};
      if (turn.role.empty()) fail(where, "empty role");
      example.turns.push_back(std::move(turn));
    }
  } else {
    example.turns.push_back({"user", string_field(value, "prompt", "")});
    example.turns.push_back({"assistant", string_field(value, "response", "")});
  }
  bool trains = false;
  for (const auto& turn : example.turns) trains = trains || turn.trains();
  if (!trains) fail("no assistant turn to train on");
  return example;
}

JsonlExamples read_jsonl_examples(const std::filesystem::path& path, MalformedLines policy) {
  const MappedFile file(path);
  const std::string_view text(reinterpret_cast<const char*>(file.bytes().data()), file.size());
  JsonlExamples result;
  const std::size_t lines = for_each_jsonl_line(text, [&](std::size_t line_number, std::string_view line) {
    try {
      ChatExample example = parse_chat_example(line);
      example.line = line_number;
      result.examples.push_back(std::move(example));
    } catch (const Error& error) {
      if (policy == MalformedLines::Fail) fail(path.string(), ": line ", line_number, ": ", error.what());
      ++result.skipped_lines;
      log_warning(path.string(), ": line ", line_number, " skipped: ", error.what());
    }
  });
  if (result.skipped_lines > 0)
    log_warning(path.string(), ": skipped ", result.skipped_lines, " malformed lines of ", lines);
  return result;
}

}  // namespace hybridize::data
