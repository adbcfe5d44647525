#pragma once
// The chat formats of the model families hybridize supports, rendered without a
// Jinja interpreter. Each conversation becomes text segments flagged by whether
// the loss covers them (only the assistant's content and its end-of-turn
// marker), so the loss mask is exact. The text equals what HF transformers'
// apply_chat_template gives with the family's template (no generation prompt):
//   chatml   <|im_start|>ROLE\nCONTENT<|im_end|>\n per turn (Qwen2). A conversation
//            without a system turn first gets the template's default system
//            prompt, if it has one ("qwen2": "You are a helpful assistant.").
//   llama3   <|begin_of_text|>, then <|start_header_id|>ROLE<|end_header_id|>\n\n
//            CONTENT<|eot_id|> per turn, CONTENT trimmed of white space (Jinja's trim).
//   mistral  <s>[INST] USER[/INST] ASSISTANT</s> per exchange, ASSISTANT trimmed.
//            An optional first system message goes before the first user message,
//            separated by a blank line (Mistral's releases differ on where it goes;
//            the first turn keeps it in multi-turn training data). Roles must
//            alternate user/assistant after it.
#include <string>
#include <string_view>
#include <vector>

#include "data/chat_example.h"

namespace hybridize::data {

enum class ChatFormat { ChatMl, Llama3, Mistral };

struct ChatTemplate {
  ChatFormat format = ChatFormat::ChatMl;
  std::string default_system;  // chatml only: the system prompt a conversation without one gets
};

struct TextSegment {
  std::string text;
  bool trains = false;
};

// "chatml", "qwen2", "llama3" or "mistral"; Error listing the names otherwise.
ChatTemplate chat_template_named(std::string_view name);
std::string_view chat_format_name(ChatFormat format);

// The markers the format needs as single tokens of the vocabulary.
std::vector<std::string> chat_template_markers(const ChatTemplate& chat_template);

// Throws Error (naming the message, not the file) when the conversation breaks
// the format's rules.
std::vector<TextSegment> render_chat(const ChatTemplate& chat_template, const ChatExample& example);

// A prompt to generate the assistant's next turn from: the conversation (which
// must end with a user turn) rendered, then the generation prompt, as HF's
// apply_chat_template(..., add_generation_prompt=True) gives it.
std::string render_generation_prompt(const ChatTemplate& chat_template, const ChatExample& conversation);

// The marker that ends an assistant turn: generation stops at its token.
std::string_view end_of_turn_marker(ChatFormat format);

// Python's str.strip(), which Jinja's trim filter calls: Unicode white space off both ends.
std::string_view trim_white_space(std::string_view text);

}  // namespace hybridize::data
