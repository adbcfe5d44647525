// Chat-style SFT examples from JSON Lines, and malformed lines by number.
#include <sys/stat.h>

#include "catch.h"
#include "data/jsonl_examples.h"
#include "temp_dir.h"

using namespace hybridize;
using namespace hybridize::data;
using hybridize::testing::TempDir;
using hybridize::testing::write_text;

TEST_CASE("both JSONL example shapes become role/content turns", "[data]") {
  TempDir dir;
  write_text(
      dir / "sft.jsonl",
      R"({"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]})"
      "\n\n"  // blank lines are not examples
      R"({"prompt": "Capital of France?", "response": "Paris", "id": 17})"
      "\r\n"
      R"({"messages": [{"role": "user", "content": "caf\u00e9 \"q\""}, {"role": "assistant", "content": "multi\nline"}]})");
  const auto read = read_jsonl_examples(dir / "sft.jsonl", MalformedLines::Fail);
  REQUIRE(read.examples.size() == 3);
  CHECK(read.skipped_lines == 0);

  const auto& chat = read.examples[0];
  CHECK(chat.line == 1);
  REQUIRE(chat.turns.size() == 3);
  CHECK(chat.turns[0].role == "system");
  CHECK(chat.turns[2].content == "4");
  CHECK_FALSE(chat.turns[1].trains());
  CHECK(chat.turns[2].trains());

  const auto& pair = read.examples[1];
  CHECK(pair.line == 3);
  REQUIRE(pair.turns.size() == 2);
  CHECK((pair.turns[0].role == "user" && pair.turns[0].content == "Capital of France?"));
  CHECK((pair.turns[1].role == "assistant" && pair.turns[1].content == "Paris"));

  CHECK(read.examples[2].turns[0].content == "caf\xc3\xa9 \"q\"");
  CHECK(read.examples[2].turns[1].content == "multi\nline");
}

TEST_CASE("malformed JSONL lines: fail names the line, skip counts them", "[data][bad-input]") {
  TempDir dir;
  const auto path = dir / "mixed.jsonl";
  write_text(path,
             R"({"prompt": "a", "response": "b"})"
             "\n"
             R"({"prompt": "a", "response": )"
             "\n"  // 2: truncated JSON
             R"(["prompt", "response"])"
             "\n"  // 3: not an object
             R"({"messages": [{"role": "user", "content": "only a question"}]})"
             "\n"  // 4: nothing to train on
             R"({"messages": [{"role": "assistant", "content": null}]})"
             "\n"  // 5: content not a string
             R"({"prompt": "p", "response": "r", "messages": []})"
             "\n"  // 6: ambiguous
             R"({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]})"
             "\n");
  REQUIRE_ERROR(read_jsonl_examples(path, MalformedLines::Fail), path.string() + ": line 2: not valid JSON");

  const auto read = read_jsonl_examples(path, MalformedLines::Skip);
  CHECK(read.skipped_lines == 5);
  REQUIRE(read.examples.size() == 2);
  CHECK(read.examples[0].line == 1);
  CHECK(read.examples[1].line == 7);
  REQUIRE_ERROR(read_jsonl_examples(dir / "absent.jsonl", MalformedLines::Skip), "absent.jsonl: no such file");
}

TEST_CASE("a huge malformed line is quoted by a bounded excerpt, and a FIFO is refused without blocking",
          "[data][bad-input]") {
  TempDir dir;
  const auto path = dir / "huge.jsonl";
  write_text(path, R"({"prompt": ")" + std::string(5'000'000, 'x') + R"(\q"})" + "\n");  // an invalid escape at the end
  try {
    read_jsonl_examples(path, MalformedLines::Fail);
    FAIL("no error for an invalid escape");
  } catch (const Error& error) {
    const std::string message = error.what();
    CHECK(message.find(path.string() + ": line 1: not valid JSON (") == 0);
    CHECK(message.find("bytes more)") != std::string::npos);
    CHECK(message.size() < 600);
  }
  REQUIRE(::mkfifo((dir / "fifo.jsonl").c_str(), 0600) == 0);
  REQUIRE_ERROR(read_jsonl_examples(dir / "fifo.jsonl", MalformedLines::Fail),
                "fifo.jsonl: is a FIFO, not a regular file");
}

TEST_CASE("each kind of malformed example has its own reason", "[data][bad-input]") {
  REQUIRE_ERROR(parse_chat_example("[1]"), "not a JSON object");
  REQUIRE_ERROR(parse_chat_example(R"({"text": "raw"})"), R"(needs either "messages" or "prompt" and "response")");
  REQUIRE_ERROR(parse_chat_example(R"({"prompt": "only"})"), R"(missing "response")");
  REQUIRE_ERROR(parse_chat_example(R"({"prompt": 3, "response": "r"})"), R"("prompt" is not a string)");
  REQUIRE_ERROR(parse_chat_example(R"({"messages": {"role": "user"}})"), R"("messages" is not an array)");
  REQUIRE_ERROR(parse_chat_example(R"({"messages": ["hi"]})"), "message 0: not an object");
  REQUIRE_ERROR(parse_chat_example(R"({"messages": [{"role": "assistant", "content": "a"}, {"content": "x"}]})"),
                R"(message 1: missing "role")");
  REQUIRE_ERROR(parse_chat_example(R"({"messages": [{"role": "", "content": "x"}]})"), "message 0: empty role");
  REQUIRE_ERROR(parse_chat_example(R"({"messages": []})"), "no assistant turn to train on");
  REQUIRE_ERROR(parse_chat_example("{\"prompt\": \"\xff\", \"response\": \"r\"}"), "not valid JSON");
}
