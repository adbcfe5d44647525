#pragma once
// Benchmark sets for `hybridize eval`, as JSON Lines the user brings (GSM8k,
// MATH500, AIME, GPQA-style sets are not downloadable here). One problem a line:
//   {"question": "...", "answer": "...", "kind": "numeric"|"boxed"|"choice",
//    "id": "...", "system": "...", "choices": ["...", "..."]}
// question, answer and kind are required; id defaults to "line N"; system is
// the problem's own system prompt; choices (2 to 10) are appended to the
// question as lettered options "A. ..." and the answer is then a letter.
// Answer kinds (answer_checker.h): numeric as GSM8k ("#### 42" or "42"),
// boxed as MATH (\boxed{...}), choice as lettered multiple choice.
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hybridize::data {

enum class AnswerKind { Numeric, Boxed, Choice };

std::optional<AnswerKind> answer_kind_named(std::string_view name);
std::string_view answer_kind_name(AnswerKind kind);

struct EvalProblem {
  std::string id;
  std::string question;  // the user message, with the lettered choices when the line has them
  std::string answer;    // the reference answer as the file gives it
  AnswerKind kind = AnswerKind::Numeric;
  std::string system;    // empty: none
  std::size_t line = 0;  // 1-based, for messages
};

struct EvalTask {
  std::string name;  // the file's stem: "gsm8k" for gsm8k.jsonl
  std::filesystem::path path;
  std::string content_hash;  // of the file's bytes (core/hashing)
  std::vector<EvalProblem> problems;
};

// Throws Error naming the file, the line and the key of the first problem that
// is malformed, a duplicate id, or an empty file.
EvalTask read_eval_task(const std::filesystem::path& path);

// One line's problem; throws Error with the reason (without file or line).
EvalProblem parse_eval_problem(std::string_view line);

}  // namespace hybridize::data
