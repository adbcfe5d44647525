#pragma once
// One supervised fine-tuning example: a conversation of role/content turns.
// It stays text here; a later step renders it with the model's chat template
// and trains only on the tokens of the turns for which trains() is true.
#include <cstddef>
#include <string>
#include <vector>

namespace hybridize::data {

struct ChatTurn {
  std::string role;  // "system", "user", "assistant", "tool", ... as the file says
  std::string content;

  bool trains() const { return role == "assistant"; }  // the loss covers only the assistant's tokens
};

struct ChatExample {
  std::vector<ChatTurn> turns;
  std::size_t line = 0;  // 1-based line in the source file, for later error messages
};

}  // namespace hybridize::data
