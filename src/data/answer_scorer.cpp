#include "data/answer_scorer.h"

#include "data/synthetic_vocabulary.h"

namespace hybridize::data::synthetic {

std::optional<std::string> parse_answer(std::string_view generated) {
  const std::size_t separator = generated.find(kAnswerSeparator);
  if (separator == std::string_view::npos) return std::nullopt;
  const std::size_t begin = separator + 1;
  const std::size_t end = generated.find_first_not_of("0123456789", begin);
  if (end == begin || end == std::string_view::npos || generated[end] != kEos) return std::nullopt;
  return std::string(generated.substr(begin, end - begin));
}

Verdict score_answer(std::string_view generated, std::string_view expected_answer) {
  const auto answer = parse_answer(generated);
  if (!answer) return Verdict::Malformed;
  return *answer == expected_answer ? Verdict::Correct : Verdict::Wrong;
}

void AnswerTally::add(Verdict verdict) {
  switch (verdict) {
    case Verdict::Correct:
      ++correct;
      break;
    case Verdict::Wrong:
      ++wrong;
      break;
    case Verdict::Malformed:
      ++malformed;
      break;
  }
}

double AnswerTally::accuracy() const { return total() == 0 ? 0.0 : double(correct) / double(total()); }

}  // namespace hybridize::data::synthetic
