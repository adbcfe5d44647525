// Benchmark answers: task files read with their errors by line and key, and
// answers extracted, normalised and judged as GSM8k, MATH and multiple-choice
// graders do, including the ways a reasoning trace tries to fool them.
#include "data/answer_checker.h"
#include "catch.h"
#include "data/eval_tasks.h"
#include "temp_dir.h"

using namespace hybridize;
using namespace hybridize::data;
using hybridize::testing::TempDir;
using hybridize::testing::write_text;

namespace {

EvalProblem problem(AnswerKind kind, std::string answer) {
  EvalProblem p;
  p.kind = kind;
  p.answer = std::move(answer);
  return p;
}

Outcome outcome(AnswerKind kind, const std::string& answer, std::string_view generated, bool opened = false) {
  return judge_answer(problem(kind, answer), generated, opened).outcome;
}

std::string extracted(AnswerKind kind, std::string_view generated) {
  return judge_answer(problem(kind, "0"), generated).extracted;
}

}  // namespace

TEST_CASE("eval task files: problems, ids, choices as lettered options", "[data][eval]") {
  TempDir dir;
  write_text(dir / "mixed.jsonl",
             R"({"question": "2+2?", "answer": "#### 4", "kind": "numeric"})"
             "\n\n"
             R"({"id": "m1", "question": "Half of 1?", "answer": "\\frac{1}{2}", "kind": "boxed", "system": "Box it."})"
             "\n"
             R"({"question": "Sky?", "answer": "B", "kind": "choice", "choices": ["green", "blue", "red"]})"
             "\n"
             R"({"question": "6*7?", "answer": 42, "kind": "numeric"})"
             "\n");
  const EvalTask task = read_eval_task(dir / "mixed.jsonl");
  CHECK(task.name == "mixed");
  CHECK(task.content_hash.size() == 32);
  REQUIRE(task.problems.size() == 4);
  CHECK(task.problems[0].id == "line 1");
  CHECK(task.problems[1].id == "m1");
  CHECK(task.problems[1].line == 3);
  CHECK(task.problems[1].system == "Box it.");
  CHECK(task.problems[1].kind == AnswerKind::Boxed);
  CHECK(task.problems[2].question == "Sky?\n\nA. green\nB. blue\nC. red");
  CHECK(task.problems[3].answer == "42");
}

TEST_CASE("malformed eval task lines are refused by file, line and key", "[data][eval][bad-input]") {
  TempDir dir;
  const auto refused = [&](const std::string& line, const std::string& message) {
    const auto path = dir / "bad.jsonl";
    write_text(path, R"({"question": "q", "answer": "1", "kind": "numeric"})"
                     "\n" +
                         line + "\n");
    REQUIRE_ERROR(read_eval_task(path), path.string() + ": line 2: " + message);
  };
  refused(R"({"answer": "1", "kind": "numeric"})", "missing \"question\"");
  refused(R"({"question": "q", "kind": "numeric"})", "missing \"answer\"");
  refused(R"({"question": "q", "answer": "1", "kind": "essay"})", "\"kind\" is 'essay'; known: numeric, boxed, choice");
  refused(R"({"question": "q", "answer": "1"})", "missing \"kind\"");
  refused(R"({"question": "q", "answer": "E", "kind": "choice", "choices": ["a", "b"]})",
          "\"answer\" of a choice problem must be one letter A to B, got 'E'");
  refused(R"({"question": "q", "answer": "1", "kind": "numeric", "choices": ["a", "b"]})",
          "\"choices\" given for kind 'numeric'");
  refused(R"({"question": "q", "answer": "A", "kind": "choice", "choices": ["a"]})",
          "\"choices\" must be an array of 2 to 10");
  refused(R"({"question": "", "answer": "1", "kind": "numeric"})", "\"question\" is empty");
  refused(R"({"question": "q", "answer": "1", "kind": "numeric", "id": "line 1"})", "id 'line 1' appears twice");
  refused(R"({"question": ["q"], "answer": "1", "kind": "numeric"})", "\"question\" is not a string");
  refused(R"({"question": "q", "answer": )", "not valid JSON");
  write_text(dir / "empty.jsonl", "\n  \n");
  REQUIRE_ERROR(read_eval_task(dir / "empty.jsonl"), "empty.jsonl: no problems");
  REQUIRE_ERROR(read_eval_task(dir / "missing.jsonl"), "missing.jsonl");
}

TEST_CASE("numeric answers as GSM8k writes them", "[data][eval]") {
  const auto numeric = AnswerKind::Numeric;
  CHECK(outcome(numeric, "Janet sells 16 - 3 - 4 = 9 eggs.\n#### 18", "She makes 9 * 2 = 18 dollars.\n#### 18") ==
        Outcome::Correct);
  CHECK(outcome(numeric, "18", "9 eggs at $2 each: $18.00") == Outcome::Correct);  // the last number, as dollars
  CHECK(outcome(numeric, "1000", "#### 1,000") == Outcome::Correct);
  CHECK(outcome(numeric, "-3", "The change is -3.") == Outcome::Correct);
  CHECK(outcome(numeric, "0.75", "So 3/4 of them.") == Outcome::Correct);
  CHECK(outcome(numeric, "7", "Seven is the answer.") == Outcome::NoAnswer);
  CHECK(outcome(numeric, "7", "#### 8") == Outcome::Wrong);
  // The last "####" followed by a number wins over numbers written after a stray "####".
  CHECK(extracted(numeric, "I write #### 12 first.\nThen #### is just a separator.") == "12");
  CHECK(extracted(numeric, "Use #### as a marker; the count is 5, then 7") == "7");
  // A boxed number beats a stray number after it.
  CHECK(extracted(numeric, "\\boxed{42} (checked in 2 ways)") == "42");
  CHECK(extracted(numeric, "1,234,567 apples") == "1,234,567");
  CHECK(extracted(numeric, "Pairs: 1,23 and 4") == "4");
  CHECK(answers_match(numeric, "1,234,567", "1234567"));
  CHECK(answers_match(numeric, "18.000", "#### 18"));
  CHECK_FALSE(answers_match(numeric, "18.5", "18"));
  CHECK(answers_match(numeric, "007", "7"));
}

TEST_CASE("boxed answers as MATH graders normalise them", "[data][eval]") {
  const auto boxed = AnswerKind::Boxed;
  CHECK(outcome(boxed, "\\frac{1}{2}", "First \\boxed{3}, then corrected: \\boxed{\\dfrac12}") == Outcome::Correct);
  CHECK(outcome(boxed, "\\boxed{\\frac{1}{2}}", "\\boxed{0.5}") == Outcome::Correct);
  CHECK(outcome(boxed, "\\frac{1}{2}", "\\boxed{1/2}") == Outcome::Correct);
  CHECK(outcome(boxed, "\\frac{1}{2}", "\\boxed{\\frac{1}{3}}") == Outcome::Wrong);
  CHECK(outcome(boxed, "10", "\\boxed{10 \\text{ cm}}") == Outcome::Correct);
  CHECK(outcome(boxed, "5", "\\boxed{x = 5}") == Outcome::Correct);
  CHECK(outcome(boxed, "90", "\\boxed{90^\\circ}") == Outcome::Correct);
  CHECK(outcome(boxed, "5", "\\boxed{5.0}") == Outcome::Correct);
  CHECK(outcome(boxed, "\\sqrt{2}", "\\boxed{\\sqrt2}") == Outcome::Correct);
  CHECK(outcome(boxed, "(1,2)", "\\boxed{\\left( 1, 2 \\right)}") == Outcome::Correct);
  CHECK(outcome(boxed, "50\\%", "\\boxed{50}") == Outcome::Correct);
  CHECK(outcome(boxed, "\\text{(B)}", "\\boxed{(B)}") == Outcome::Correct);
  CHECK(outcome(boxed, "2", "\\boxed{2") == Outcome::NoAnswer);  // never closed
  CHECK(outcome(boxed, "2", "the answer is 2") == Outcome::NoAnswer);
  CHECK(extracted(boxed, "\\boxed{\\frac{a}{b^{2}}} and \\fbox{7}") == "7");
  CHECK(extracted(boxed, "so \\boxed 9 is it") == "9");
}

TEST_CASE("lettered choices", "[data][eval]") {
  const auto choice = AnswerKind::Choice;
  CHECK(extracted(choice, "Let me think. The answer is (C).") == "C");
  CHECK(extracted(choice, "Answer: B") == "B");
  CHECK(extracted(choice, "**Answer:** **D**") == "D");
  CHECK(extracted(choice, "\\boxed{D}") == "D");
  CHECK(extracted(choice, " (A) ") == "A");
  CHECK(extracted(choice, "I first thought the answer is A, but the answer is C") == "C");
  CHECK(outcome(choice, "A", "A bit of thought says nothing.") == Outcome::NoAnswer);
  CHECK(outcome(choice, "A", "The answer is Apple") == Outcome::NoAnswer);
  CHECK(outcome(choice, "B", "The answer is C.") == Outcome::Wrong);
}

TEST_CASE("only the final response after thinking counts", "[data][eval]") {
  const auto boxed = AnswerKind::Boxed;
  const std::string trace = "<think>Maybe \\boxed{3}? No.</think>The answer is \\boxed{5}.";
  CHECK(outcome(boxed, "5", trace) == Outcome::Correct);
  CHECK(outcome(boxed, "3", trace) == Outcome::Wrong);
  CHECK(outcome(boxed, "3", "<think>It is \\boxed{3}, I think, but") == Outcome::NoAnswer);  // cut off while thinking
  // A template that opens the thinking part in the prompt: the generation has only the end marker.
  CHECK(outcome(boxed, "3", "It is \\boxed{3}...", /*opened=*/true) == Outcome::NoAnswer);
  CHECK(outcome(boxed, "4", "\\boxed{3} no.\n</think>\n\\boxed{4}", /*opened=*/true) == Outcome::Correct);
  // Apriel's markers.
  CHECK(outcome(
            AnswerKind::Numeric, "7",
            "Here are my reasoning steps: 3 + 4 = 7, or 8?\n[BEGIN FINAL RESPONSE]\n#### 7\n[END FINAL RESPONSE] 9") ==
        Outcome::Correct);
  CHECK(opens_thinking("<|im_start|>assistant\n<think>\n"));
  CHECK_FALSE(opens_thinking("<|im_start|>user\nno <think> here</think><|im_start|>assistant\n"));
  CHECK_FALSE(opens_thinking("<|im_start|>assistant\n"));
}
