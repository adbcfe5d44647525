// Chat templates: the renderers give HF transformers' apply_chat_template text
// for the Jinja templates of each family, HF tokenizers' ids for that text, and
// a loss mask over exactly the assistant's tokens (references made by
// tests/reference/make_tokenizer_reference.py); auto-detection and its errors.
#include <fstream>
#include <nlohmann/json.hpp>

#include "catch.h"
#include "data/chat_template.h"
#include "data/chat_template_detection.h"
#include "data/chat_tokenization.h"
#include "data/jsonl_examples.h"
#include "temp_dir.h"
#include "unit/tokenizer_references.h"

using namespace hybridize::data;
using hybridize::testing::read_text;
using hybridize::testing::TempDir;
using hybridize::testing::tokenizer_reference_dir;
using hybridize::testing::write_text;
using nlohmann::json;

namespace {

ChatExample conversation(const json& messages) { return parse_chat_example(json{{"messages", messages}}.dump()); }

std::string joined(const std::vector<TextSegment>& segments) {
  std::string text;
  for (const auto& segment : segments) text += segment.text;
  return text;
}

std::vector<int> mask_of(const TokenizedChat& chat) {
  std::vector<int> mask(chat.ids.size(), 0);
  for (const TokenSpan& span : chat.trainable)
    for (uint64_t i = span.begin; i < span.end; ++i) mask[i] = 1;
  return mask;
}

void check_parity(const std::string& format, std::size_t conversations, const std::string& variant = "") {
  const auto dir = tokenizer_reference_dir() / ("chat_" + format + variant);
  const ChatTemplate detected = detect_chat_template(dir / "tokenizer_config.json");
  CHECK(chat_format_name(detected.format) == format);
  const Tokenizer tokenizer(dir / "tokenizer.json");
  check_chat_markers(tokenizer, detected, "tokenizer.json");
  const json reference = json::parse(read_text(dir / "reference.json"));
  REQUIRE(reference.at("cases").size() == conversations);
  for (const auto& c : reference.at("cases")) {
    INFO(format << ": " << c.at("text").get<std::string>());
    const auto segments = render_chat(detected, conversation(c.at("messages")));
    REQUIRE(joined(segments) == c.at("text").get<std::string>());
    const TokenizedChat chat = tokenize_chat(tokenizer, segments);
    CHECK(chat.ids == c.at("ids").get<std::vector<int32_t>>());
    CHECK(mask_of(chat) == c.at("trains").get<std::vector<int>>());
  }
  // Generation prompts: each prefix of a conversation ending with a user message.
  REQUIRE(reference.at("prompts").size() >= conversations);
  for (const auto& p : reference.at("prompts")) {
    ChatExample prefix;
    for (const auto& m : p.at("messages"))
      prefix.turns.push_back({m.at("role").get<std::string>(), m.at("content").get<std::string>()});
    const std::string text = render_generation_prompt(detected, prefix);
    INFO(format << " prompt: " << text);
    REQUIRE(text == p.at("text").get<std::string>());
    CHECK(tokenizer.encode(text, false) == p.at("ids").get<std::vector<int32_t>>());
  }
}

}  // namespace

TEST_CASE("chat templates match HF apply_chat_template, HF tokenizers and the assistant spans", "[data][chat]") {
  check_parity("chatml", 4);  // Qwen2's template, with its default system prompt
  check_parity("llama3", 4);
  check_parity("mistral", 3);
  // A ByteLevel pre-tokenizer adding a prefix space: tokens begin with spaces the text lacks.
  check_parity("chatml", 4, "_prefix_space");
  // A SentencePiece-style tokenizer (Prepend and Replace normalizers, byte fallback), as Mistral 7B's.
  check_parity("mistral", 3, "_sentencepiece");
}

TEST_CASE("a generation prompt needs a conversation ending with a user message", "[data][chat]") {
  ChatExample answered;
  answered.turns = {{"user", "2+2?"}, {"assistant", "4"}};
  REQUIRE_ERROR(render_generation_prompt(chat_template_named("chatml"), answered), "ends with a user message");
  REQUIRE_ERROR(render_generation_prompt(chat_template_named("llama3"), ChatExample{}), "ends with a user message");
  CHECK(end_of_turn_marker(ChatFormat::Llama3) == "<|eot_id|>");
}

TEST_CASE("only assistant content and its end-of-turn marker train", "[data][chat]") {
  const auto example =
      conversation(json::array({{{"role", "user"}, {"content", "Q"}}, {{"role", "assistant"}, {"content", " A "}}}));
  const auto segments = render_chat(chat_template_named("llama3"), example);
  REQUIRE(segments.size() == 2);
  CHECK(segments[0].text ==
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nQ<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n");
  CHECK_FALSE(segments[0].trains);
  CHECK(segments[1].text == "A<|eot_id|>");
  CHECK(segments[1].trains);

  const auto chatml = render_chat(chat_template_named("chatml"), example);
  CHECK(joined(chatml) == "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n A <|im_end|>\n");
  CHECK(chatml[1].text == " A <|im_end|>");
  CHECK(chat_template_named("qwen2").default_system == "You are a helpful assistant.");
}

TEST_CASE("the mistral format needs alternating user and assistant turns", "[data][chat][bad-input]") {
  const auto mistral = chat_template_named("mistral");
  REQUIRE_ERROR(
      render_chat(mistral, conversation(json::array({{{"role", "assistant"}, {"content", "A"}}}))),
      "message 0: the mistral template needs roles alternating user/assistant after an optional system message, "
      "but this one is 'assistant'");
  REQUIRE_ERROR(render_chat(mistral, conversation(json::array({{{"role", "system"}, {"content", "S"}},
                                                               {{"role", "user"}, {"content", "U"}},
                                                               {{"role", "tool"}, {"content", "T"}},
                                                               {{"role", "assistant"}, {"content", "A"}}}))),
                "message 2: ");
  REQUIRE_ERROR(chat_template_named("vicuna"),
                "unknown chat template 'vicuna' (known: auto, chatml, qwen2, llama3, mistral)");
}

TEST_CASE("trim removes Python's white space, Unicode included", "[data][chat]") {
  CHECK(trim_white_space(" \t\n\x0b\x0c\r x y \x1c\x1f") == "x y");
  CHECK(trim_white_space("\u3000\u00a0\u2028答え\u2009\u202f\u205f\u0085") == "答え");
  CHECK(trim_white_space("\u200bz\u200b") == "\u200bz\u200b");  // zero-width space is not white space to Python
  CHECK(trim_white_space("   ").empty());
}

TEST_CASE("auto-detection reads the template's markers and names the file when it cannot", "[data][chat][bad-input]") {
  TempDir dir;
  const auto config = dir / "tokenizer_config.json";
  const auto detect = [&](const json& value) {
    write_text(config, value.dump());
    return detect_chat_template(config);
  };
  // Qwen2.5 style, the system prompt written with a Jinja escape and also used with tools.
  const std::string qwen25 =
      "{%- if tools %}{{- '<|im_start|>system\\n' + messages[0]['content'] }}{%- else %}"
      "{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}"
      "{%- endif %}";
  CHECK(detect({{"chat_template", qwen25}}).default_system ==
        "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.");
  CHECK(detect({{"chat_template", "{{'<|im_start|>' + message['role'] + '\\n'}}"}}).default_system.empty());
  CHECK(detect({{"chat_template", json::array({{{"name", "tool_use"}, {"template", "[INST]"}},
                                               {{"name", "default"}, {"template", "<|start_header_id|>"}}})}})
            .format == ChatFormat::Llama3);
  CHECK(detect({{"chat_template", "{{ bos_token }}[INST] x [/INST]"}}).format == ChatFormat::Mistral);

  REQUIRE_ERROR(detect({{"chat_template", "{{ '### User: ' + message['content'] }}"}}),
                config.string() + ": key 'chat_template': not a chat template hybridize recognises");
  REQUIRE_ERROR(detect({{"chat_template", "<|start_header_id|> Cutting Knowledge Date: December 2023"}}),
                "the Llama 3.1+ chat template adds a dated system prompt");
  REQUIRE_ERROR(detect({{"chat_template", 3}}), "key 'chat_template': neither a string nor a list");
  REQUIRE_ERROR(detect({{"bos_token", "<s>"}}), config.string() + ": key 'chat_template': missing");
  write_text(dir / "chat_template.jinja", "{{ '<|im_start|>' }}");  // transformers >= 4.43 saves it beside
  CHECK(detect({{"bos_token", "<s>"}}).format == ChatFormat::ChatMl);
  write_text(config, "{\"chat_template\": ");
  REQUIRE_ERROR(detect_chat_template(config), config.string() + ": not valid JSON");
  REQUIRE_ERROR(detect_chat_template(dir / "absent.json"), "absent.json: no such file");
}

TEST_CASE("markers missing from the vocabulary and text the tokenizer changes are refused", "[data][chat][bad-input]") {
  const Tokenizer qwen2(tokenizer_reference_dir() / "qwen2" / "tokenizer.json");  // ChatML markers, NFC normalizer
  REQUIRE_ERROR(check_chat_markers(qwen2, chat_template_named("llama3"), "qwen2/tokenizer.json"),
                "qwen2/tokenizer.json: the llama3 chat template needs the token '<|begin_of_text|>', which is not in "
                "this tokenizer's vocabulary");
  check_chat_markers(qwen2, chat_template_named("chatml"), "qwen2/tokenizer.json");
  const auto decomposed = conversation(
      json::array({{{"role", "user"}, {"content", "Ne\u0301e?"}}, {{"role", "assistant"}, {"content", "Oui."}}}));
  REQUIRE_ERROR(tokenize_chat(qwen2, render_chat(chat_template_named("chatml"), decomposed)),
                "does not spell the text at byte");
}
