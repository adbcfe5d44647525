#pragma once
// Reads chat-style SFT examples from JSON Lines. Each non-blank line is either
//   {"messages": [{"role": "user", "content": "..."}, ...]}
// or {"prompt": "...", "response": "..."} (a user turn and an assistant turn).
// Other keys are ignored; an example must have at least one assistant turn.
#include <filesystem>
#include <string_view>
#include <vector>

#include "data/chat_example.h"

namespace hybridize::data {

enum class MalformedLines {
  Fail,  // the first malformed line throws Error naming file and line
  Skip,  // malformed lines are counted and each is logged as a warning
};

struct JsonlExamples {
  std::vector<ChatExample> examples;
  std::size_t skipped_lines = 0;
};

JsonlExamples read_jsonl_examples(const std::filesystem::path& path, MalformedLines policy);

// Parses one line; throws Error with the reason (without file or line).
ChatExample parse_chat_example(std::string_view line);

}  // namespace hybridize::data
