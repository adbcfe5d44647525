#include "data/chat_template.h"

#include "core/error.h"
#include "data/utf8.h"

namespace hybridize::data {

namespace {

constexpr std::string_view kQwen2DefaultSystem = "You are a helpful assistant.";

// Python's str.isspace(): bidirectional classes WS, B, S and category Zs.
bool is_python_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// Appends text to the last segment when it has the same flag, so segments alternate.
void emit(std::vector<TextSegment>& out, std::string_view text, bool trains) {
  if (text.empty()) return;
  if (!out.empty() && out.back().trains == trains) {
    out.back().text += text;
  } else {
    out.push_back({std::string(text), trains});
  }
}

std::vector<TextSegment> render_chatml(const ChatTemplate& chat_template, const ChatExample& example) {
  std::vector<TextSegment> out;
  if (!chat_template.default_system.empty() && (example.turns.empty() || example.turns.front().role != "system"))
    emit(out, "<|im_start|>system\n" + chat_template.default_system + "<|im_end|>\n", false);
  for (const ChatTurn& turn : example.turns) {
    emit(out, "<|im_start|>" + turn.role + "\n", false);
    emit(out, turn.content + "<|im_end|>", turn.trains());
    emit(out, "\n", false);
  }
  return out;
}

std::vector<TextSegment> render_llama3(const ChatExample& example) {
  std::vector<TextSegment> out;
  emit(out, "<|begin_of_text|>", false);
  for (const ChatTurn& turn : example.turns) {
    emit(out, "<|start_header_id|>" + turn.role + "<|end_header_id|>\n\n", false);
    emit(out, std::string(trim_white_space(turn.content)) + "<|eot_id|>", turn.trains());
  }
  return out;
}

std::vector<TextSegment> render_mistral(const ChatExample& example) {
  std::vector<TextSegment> out;
  emit(out, "<s>", false);
  const auto& turns = example.turns;
  const std::size_t first = !turns.empty() && turns.front().role == "system" ? 1 : 0;
  for (std::size_t i = first; i < turns.size(); ++i) {
    const ChatTurn& turn = turns[i];
    const char* expected = (i - first) % 2 == 0 ? "user" : "assistant";
    if (turn.role != expected)
      fail("message ", i,
           ": the mistral template needs roles alternating user/assistant after an optional system "
           "message, but this one is '",
           turn.role, "'");
    if (turn.role == "user") {
      const std::string system = i == first && first == 1 ? turns.front().content + "\n\n" : "";
      emit(out, "[INST] " + system + turn.content + "[/INST]", false);
    } else {
      emit(out, " " + std::string(trim_white_space(turn.content)) + "</s>", true);
    }
  }
  return out;
}

}  // namespace

std::string_view trim_white_space(std::string_view text) {
  std::size_t begin = std::string_view::npos, end = 0;
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t length = utf8::sequence_length(text, at);
    const bool space = length > 0 && is_python_space(utf8::decode(text, at, length));
    const std::size_t next = at + (length > 0 ? length : 1);
    if (!space) {
      if (begin == std::string_view::npos) begin = at;
      end = next;
    }
    at = next;
  }
  return begin == std::string_view::npos ? std::string_view() : text.substr(begin, end - begin);
}

ChatTemplate chat_template_named(std::string_view name) {
  if (name == "chatml") return {ChatFormat::ChatMl, ""};
  if (name == "qwen2") return {ChatFormat::ChatMl, std::string(kQwen2DefaultSystem)};
  if (name == "llama3") return {ChatFormat::Llama3, ""};
  if (name == "mistral") return {ChatFormat::Mistral, ""};
  fail("unknown chat template '", name, "' (known: auto, chatml, qwen2, llama3, mistral)");
}

std::string_view chat_format_name(ChatFormat format) {
  switch (format) {
    case ChatFormat::ChatMl:
      return "chatml";
    case ChatFormat::Llama3:
      return "llama3";
    case ChatFormat::Mistral:
      return "mistral";
  }
  return "?";
}

std::vector<std::string> chat_template_markers(const ChatTemplate& chat_template) {
  switch (chat_template.format) {
    case ChatFormat::ChatMl:
      return {"<|im_start|>", "<|im_end|>"};
    case ChatFormat::Llama3:
      return {"<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"};
    case ChatFormat::Mistral:
      return {"<s>", "</s>"};  // [INST] is a token in newer vocabularies, text in older ones
  }
  return {};
}

std::vector<TextSegment> render_chat(const ChatTemplate& chat_template, const ChatExample& example) {
  switch (chat_template.format) {
    case ChatFormat::ChatMl:
      return render_chatml(chat_template, example);
    case ChatFormat::Llama3:
      return render_llama3(example);
    case ChatFormat::Mistral:
      return render_mistral(example);
  }
  return {};
}

std::string render_generation_prompt(const ChatTemplate& chat_template, const ChatExample& conversation) {
  if (conversation.turns.empty() || conversation.turns.back().role != "user")
    fail("a generation prompt needs a conversation that ends with a user message");
  std::string text;
  for (const auto& segment : render_chat(chat_template, conversation)) text += segment.text;
  switch (chat_template.format) {
    case ChatFormat::ChatMl:
      return text + "<|im_start|>assistant\n";
    case ChatFormat::Llama3:
      return text + "<|start_header_id|>assistant<|end_header_id|>\n\n";
    case ChatFormat::Mistral:
      return text;  // "[/INST]" already hands the turn over
  }
  return text;
}

std::string_view end_of_turn_marker(ChatFormat format) {
  switch (format) {
    case ChatFormat::ChatMl:
      return "<|im_end|>";
    case ChatFormat::Llama3:
      return "<|eot_id|>";
    case ChatFormat::Mistral:
      return "</s>";
  }
  return "";
}

}  // namespace hybridize::data
