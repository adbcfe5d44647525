#include "data/eval_tasks.h"

#include <nlohmann/json.hpp>
#include <unordered_set>

#include "core/error.h"
#include "core/hashing.h"
#include "core/json_file.h"
#include "core/mapped_file.h"
#include "data/jsonl_lines.h"

namespace hybridize::data {

namespace {

constexpr std::size_t kMaxChoices = 10;  // A to J, as GPQA- and MMLU-Pro-style sets use at most

std::string text_field(const nlohmann::json& object, const char* key, bool required) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    if (required) fail("missing \"", key, "\"");
    return "";
  }
  // Numeric answers are often written as numbers: 42 reads as "42".
  if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
  if (!it->is_string()) fail("\"", key, "\" is not a string");
  return it->get<std::string>();
}

}  // namespace

std::optional<AnswerKind> answer_kind_named(std::string_view name) {
  if (name == "numeric") return AnswerKind::Numeric;
  if (name == "boxed") return AnswerKind::Boxed;
  if (name == "choice") return AnswerKind::Choice;
  return std::nullopt;
}

std::string_view answer_kind_name(AnswerKind kind) {
  switch (kind) {
    case AnswerKind::Numeric:
      return "numeric";
    case AnswerKind::Boxed:
      return "boxed";
    case AnswerKind::Choice:
      return "choice";
  }
  return "?";
}

EvalProblem parse_eval_problem(std::string_view line) {
  const nlohmann::json value = parse_json(line, "");
  if (!value.is_object()) fail("not a JSON object");
  EvalProblem problem;
  problem.question = text_field(value, "question", true);
  if (problem.question.empty()) fail("\"question\" is empty");
  problem.answer = text_field(value, "answer", true);
  if (problem.answer.empty()) fail("\"answer\" is empty");
  const std::string kind = text_field(value, "kind", true);
  const auto parsed = answer_kind_named(kind);
  if (!parsed) fail("\"kind\" is '", kind, "'; known: numeric, boxed, choice");
  problem.kind = *parsed;
  problem.id = text_field(value, "id", false);
  problem.system = text_field(value, "system", false);

  const auto choices = value.find("choices");
  const bool has_choices = choices != value.end() && !choices->is_null();
  if (has_choices && problem.kind != AnswerKind::Choice) fail("\"choices\" given for kind '", kind, "'");
  std::size_t letters = kMaxChoices;
  if (has_choices) {
    if (!choices->is_array() || choices->size() < 2 || choices->size() > kMaxChoices)
      fail("\"choices\" must be an array of 2 to ", kMaxChoices, " strings");
    problem.question += "\n";
    for (std::size_t i = 0; i < choices->size(); ++i) {
      if (!(*choices)[i].is_string()) fail("choice ", i, " is not a string");
      problem.question += "\n" + std::string(1, char('A' + i)) + ". " + (*choices)[i].get<std::string>();
    }
    letters = choices->size();
  }
  if (problem.kind == AnswerKind::Choice &&
      (problem.answer.size() != 1 || problem.answer[0] < 'A' || problem.answer[0] >= char('A' + letters)))
    fail("\"answer\" of a choice problem must be one letter A to ", char('A' + letters - 1), ", got '", problem.answer,
         "'");
  return problem;
}

EvalTask read_eval_task(const std::filesystem::path& path) {
  const MappedFile file(path);
  const std::string_view text(reinterpret_cast<const char*>(file.bytes().data()), file.size());
  EvalTask task;
  task.name = path.stem().string();
  task.path = path;
  ContentHasher hasher;
  hasher.update(text);
  task.content_hash = hasher.hex_digest();
  std::unordered_set<std::string> ids;
  for_each_jsonl_line(text, [&](std::size_t line_number, std::string_view line) {
    try {
      EvalProblem problem = parse_eval_problem(line);
      problem.line = line_number;
      if (problem.id.empty()) problem.id = "line " + std::to_string(line_number);
      if (!ids.insert(problem.id).second) fail("id '", problem.id, "' appears twice");
      task.problems.push_back(std::move(problem));
    } catch (const Error& error) {
      fail(path.string(), ": line ", line_number, ": ", error.what());
    }
  });
  if (task.problems.empty()) fail(path.string(), ": no problems (an eval task file has one JSON object a line)");
  return task;
}

}  // namespace hybridize::data
