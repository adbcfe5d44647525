#pragma once
// Exact-match scoring of a model's generated text on the synthetic task.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace hybridize::data::synthetic {

// The final answer in generated text (with or without the prompt before it):
// the digits between the first '#' and the '$' (EOS) that must follow them.
// Nothing when there is no '#', no digit, or anything but digits before '$';
// an answer cut off before EOS counts as missing, not as a shorter number.
std::optional<std::string> parse_answer(std::string_view generated);

enum class Verdict { Correct, Wrong, Malformed };

Verdict score_answer(std::string_view generated, std::string_view expected_answer);

struct AnswerTally {
  std::size_t correct = 0;
  std::size_t wrong = 0;
  std::size_t malformed = 0;

  void add(Verdict verdict);
  std::size_t total() const { return correct + wrong + malformed; }
  double accuracy() const;  // correct / total; 0 when empty
};

}  // namespace hybridize::data::synthetic
