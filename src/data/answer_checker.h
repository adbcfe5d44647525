#pragma once
// Judging a generated answer against a benchmark's reference (eval_tasks.h).
// Reasoning models think before they answer: only the final response counts,
// the text after the last end-of-thinking marker ("</think>", or Apriel's
// "[BEGIN FINAL RESPONSE]"); thinking that never ends gives no answer.
//   numeric  the number after the last "####" (GSM8k), else in the last
//            \boxed{}, else the last number of the response; compared as
//            numbers ("1,000" = "1000.0", "3/4" = "0.75").
//   boxed    the content of the last \boxed{...} (MATH), normalised as MATH
//            graders do (\dfrac -> \frac, \frac12 -> \frac{1}{2}, spaces, \left,
//            units in \text{}, degrees, dollars, percent, "x = ", trailing .0),
//            then compared as text, or as numbers where both are numbers.
//   choice   a letter A-J: the last \boxed{X}, else the last "answer is X" /
//            "Answer: X", else a response that is only the letter.
#include <optional>
#include <string>
#include <string_view>

#include "data/eval_tasks.h"

namespace hybridize::data {

// The response after the last end-of-thinking marker (the whole text when it
// has none); nullopt when a thinking part was opened ("<think>", in the text
// or, where `prompt_opens_thinking`, at the end of the prompt) and never closed.
std::optional<std::string_view> final_response(std::string_view generated, bool prompt_opens_thinking = false);

// Whether a prompt ends inside a thinking part its template opened for the model.
bool opens_thinking(std::string_view prompt);

// The answer the response gives, as written (before normalisation); nullopt when it gives none.
std::optional<std::string> extract_answer(AnswerKind kind, std::string_view response);

// The canonical form two answers of `kind` are compared in.
std::string normalize_answer(AnswerKind kind, std::string_view answer);

// Whether an extracted answer equals the reference (as the task file gives it:
// "#### 42" and "\boxed{..}" references are unwrapped first).
bool answers_match(AnswerKind kind, std::string_view extracted, std::string_view reference);

enum class Outcome { Correct, Wrong, NoAnswer };
std::string_view outcome_name(Outcome outcome);

struct Judgement {
  Outcome outcome = Outcome::NoAnswer;
  std::string extracted;  // empty when there is no answer
};

Judgement judge_answer(const EvalProblem& problem, std::string_view generated, bool prompt_opens_thinking = false);

}  // namespace hybridize::data
