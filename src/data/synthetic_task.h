#pragma once
// The built-in synthetic reasoning task of the demo: chained modular
// arithmetic over a few variables, with reassignment, so the answer needs
// multi-step state tracking. A problem as text (see synthetic_vocabulary.h):
//   ^b=6;e=5;a=6;a=a+b;d=a-b;?a>a=a6+b6=5;d=a5-b6=6;a5#5$
// question: initial values, then steps "target=x op y;", then "?variable";
// trace: each step copied with every operand's current value written right
// after its name, then the result mod `modulus`; last the queried variable
// with its final value; answer: that value again. Each trace step chains
// lookups (which step comes next, its operands, each operand's latest value in
// the question or the trace so far) before one operation, so a model needs
// several layers. Every value follows its name so that each lookup starts from
// the name at hand: when the trace held values alone a small teacher never
// learnt the lookup (configs/demo-teacher/README.md). The answer's exact match
// is the checkable result.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hybridize::data::synthetic {

struct TaskConfig {
  int min_steps = 2;
  int max_steps = 6;  // with the defaults below a problem is at most 117 tokens
  int modulus = 7;    // operand range: values lie in [0, modulus); prime, so x*y is 0 only for a 0 operand
  int initial_variables = 3;
  int variable_count = 6;  // names are the first letters of the alphabet
};

// The task the demo teacher was trained on (configs/demo-teacher): one or two
// steps, modulus 5. Scoring and distilling the synthetic task default to it.
inline constexpr TaskConfig kDemoTask{.min_steps = 1, .max_steps = 2, .modulus = 5};

// Throws Error naming the field that is out of range.
void validate(const TaskConfig& config);
// The longest problem's text in tokens, BOS and EOS included.
std::size_t max_problem_tokens(const TaskConfig& config);

struct Problem {
  std::string question;  // "a=3;c=7;e=1;a=a+c;...?a"
  std::string trace;     // "a=a3+c7=0;...a0"
  std::string answer;    // "0"

  std::string prompt() const;      // "^" question ">"  -- what a model is given
  std::string completion() const;  // trace "#" answer "$"  -- what it must generate
  std::string text() const { return prompt() + completion(); }
};

enum class Split { Train, Validation, Test };

// The split a question belongs to, fixed by a hash of its text (80/10/10), so
// no question can land in two splits whatever seeds and counts are used.
Split split_of(std::string_view question);

inline constexpr uint64_t kDefaultSeed = 20251103;

// `count` distinct problems of one split, the same for the same arguments on
// every machine; a longer list extends a shorter one. Throws Error when the
// configuration has too few distinct problems for `count`.
std::vector<Problem> generate_split(const TaskConfig& config, Split split, std::size_t count,
                                    uint64_t seed = kDefaultSeed);

}  // namespace hybridize::data::synthetic
