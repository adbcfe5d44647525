// The built-in synthetic reasoning task: problems that check out, fixed
// splits that never overlap, the character vocabulary and the answer scorer.
#include <regex>
#include <set>

#include "catch.h"
#include "data/answer_scorer.h"
#include "data/synthetic_task.h"
#include "data/synthetic_vocabulary.h"

using namespace hybridize;
using namespace hybridize::data;
using namespace hybridize::data::synthetic;

namespace {

std::set<std::string> questions(const std::vector<Problem>& problems) {
  std::set<std::string> set;
  for (const auto& problem : problems) set.insert(problem.question);
  return set;
}

// Re-solves a problem from its question alone, independently of the generator.
std::string solve(const std::string& question, int modulus) {
  std::map<char, int> values;
  const std::size_t query = question.find('?');
  for (std::size_t at = 0; at < query;) {
    const std::size_t end = question.find(';', at);
    const std::string statement = question.substr(at, end - at);  // "a=5" or "a=b+c"
    const char target = statement[0];
    if (std::isdigit(static_cast<unsigned char>(statement[2]))) {
      values[target] = std::stoi(statement.substr(2));
    } else {
      const int x = values.at(statement[2]), y = values.at(statement[4]);
      const int raw = statement[3] == '+' ? x + y : statement[3] == '-' ? x - y : x * y;
      values[target] = ((raw % modulus) + modulus) % modulus;
    }
    at = end + 1;
  }
  return std::to_string(values.at(question[query + 1]));
}

// The steps "a=b+c" of a question, and those a trace copies with the operands' values ("a=b3+c4=2;").
std::vector<std::string> question_steps(const std::string& question) {
  std::vector<std::string> steps;
  for (std::size_t at = 0; at < question.find('?'); at = question.find(';', at) + 1)
    if (!std::isdigit(static_cast<unsigned char>(question[at + 2]))) steps.push_back(question.substr(at, 5));
  return steps;
}
std::vector<std::string> copied_steps(const std::string& trace) {
  std::vector<std::string> steps;
  for (std::size_t at = 0; trace.find(';', at) != std::string::npos; at = trace.find(';', at) + 1) {
    std::string step = trace.substr(at, trace.find('=', at + 2) - at);  // up to the result
    std::erase_if(step, [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
    steps.push_back(step);
  }
  return steps;
}

}  // namespace

TEST_CASE("synthetic problems are well formed, short and correctly solved", "[data][synthetic]") {
  const TaskConfig config;
  CHECK(max_problem_tokens(config) <= 128);
  const std::regex shape(
      R"(\^([a-f]=\d;){3}([a-f]=[a-f][-+*][a-f];){2,6}\?([a-f])>([a-f]=[a-f]\d[-+*][a-f]\d=\d;){2,6}\3(\d)#\5\$)");
  std::size_t longest = 0;
  std::set<std::string> answers;
  for (const auto& problem : generate_split(config, Split::Train, 500)) {
    INFO(problem.text());
    CHECK(std::regex_match(problem.text(), shape));
    CHECK(problem.answer == solve(problem.question, config.modulus));
    CHECK(copied_steps(problem.trace) == question_steps(problem.question));
    CHECK(problem.text() == problem.prompt() + problem.completion());
    longest = std::max(longest, problem.text().size());
    answers.insert(problem.answer);
  }
  CHECK(longest <= max_problem_tokens(config));
  CHECK(answers.size() ==
        std::size_t(config.modulus));  // every residue occurs: the answer is not guessable from a constant

  SECTION("difficulty knobs change steps and operand range") {
    const TaskConfig hard{.min_steps = 8, .max_steps = 8, .modulus = 97, .initial_variables = 4, .variable_count = 8};
    for (const auto& problem : generate_split(hard, Split::Validation, 50)) {
      CHECK(std::count(problem.trace.begin(), problem.trace.end(), ';') == 8);
      CHECK(problem.answer == solve(problem.question, 97));
      CHECK(problem.text().size() <= max_problem_tokens(hard));
    }
  }
}

TEST_CASE("splits are deterministic, disjoint and prefix-stable", "[data][synthetic]") {
  const TaskConfig config;
  const auto train = generate_split(config, Split::Train, 4000);
  const auto validation = generate_split(config, Split::Validation, 400);
  const auto test = generate_split(config, Split::Test, 400);
  const auto train_set = questions(train), validation_set = questions(validation), test_set = questions(test);
  CHECK(train_set.size() == train.size());  // no duplicates within a split
  CHECK(validation_set.size() == validation.size());
  CHECK(test_set.size() == test.size());
  for (const auto& question : test_set) {
    CHECK(train_set.count(question) == 0);
    CHECK(validation_set.count(question) == 0);
  }
  for (const auto& question : validation_set) CHECK(train_set.count(question) == 0);
  // A different seed gives other problems, still never crossing splits.
  for (const auto& problem : generate_split(config, Split::Train, 400, 99))
    CHECK(test_set.count(problem.question) == 0);

  const auto again = generate_split(config, Split::Test, 100);
  CHECK(questions(again) == questions(std::vector<Problem>(test.begin(), test.begin() + 100)));
  CHECK(generate_split(config, Split::Test, 100, 7).front().question != test.front().question);
}

TEST_CASE("task configuration is checked", "[data][synthetic][bad-input]") {
  REQUIRE_ERROR(validate({.min_steps = 0}), "synthetic task: min_steps 0 must be at least 1");
  REQUIRE_ERROR(validate({.min_steps = 5, .max_steps = 3}), "max_steps 3 is below min_steps 5");
  REQUIRE_ERROR(validate({.modulus = 1}), "modulus 1 must lie in [2, 1000]");
  REQUIRE_ERROR(validate({.initial_variables = 7}), "initial_variables 7 must lie in [1, variable_count 6]");
  REQUIRE_ERROR(validate({.variable_count = 27}), "variable_count 27 must lie in [1, 26]");
  // One variable, mod 2, one step: a handful of distinct problems only.
  const TaskConfig tiny{.min_steps = 1, .max_steps = 1, .modulus = 2, .initial_variables = 1, .variable_count = 1};
  REQUIRE_ERROR(generate_split(tiny, Split::Train, 100), "distinct problems of 100");
}

TEST_CASE("the character vocabulary round-trips and refuses strangers", "[data][synthetic]") {
  CHECK(kVocabSize == 47);
  CHECK(encode("^")[0] == kBosId);
  CHECK(encode("$")[0] == kEosId);
  CHECK(encode("_")[0] == kPadId);
  const Problem problem = generate_split(TaskConfig{}, Split::Test, 1).front();
  const auto ids = encode(problem.text());
  CHECK(ids.size() == problem.text().size());
  CHECK(ids.front() == kBosId);
  CHECK(ids.back() == kEosId);
  CHECK(decode(ids) == problem.text());
  REQUIRE_ERROR(encode("a=B"), "character 'B' at position 2 is not in the vocabulary");
  REQUIRE_ERROR(encode("a\n"), "byte 10 at position 1 is not in the vocabulary");
  REQUIRE_ERROR(decode(std::vector<TokenId>{1, 47}), "id 47 at position 1 is outside [0, 47)");
}

TEST_CASE("the scorer matches exact final answers and flags malformed output", "[data][synthetic]") {
  const std::string prompt = "^a=3;b=4;a=a*b;?a>";
  CHECK(score_answer(prompt + "a=a3*b4=2;a2#2$", "2") == Verdict::Correct);
  CHECK(score_answer("a=a3*b4=2;a2#2$____", "2") == Verdict::Correct);  // padding after EOS is ignored
  CHECK(score_answer(prompt + "a=a3*b4=7;a7#7$", "2") == Verdict::Wrong);
  CHECK(score_answer("#12$", "1") == Verdict::Wrong);
  CHECK(score_answer("#02$", "2") == Verdict::Wrong);                       // exact match, not numeric equality
  CHECK(score_answer(prompt + "a=a3*b4=2;a2", "2") == Verdict::Malformed);  // no answer section
  CHECK(score_answer("a=a3*b4=2;a2#2", "2") == Verdict::Malformed);         // cut off before EOS
  CHECK(score_answer("#$", "2") == Verdict::Malformed);
  CHECK(score_answer("#2a$", "2") == Verdict::Malformed);
  CHECK(score_answer("#2#2$", "2") == Verdict::Malformed);
  CHECK(parse_answer("x#57$") == std::optional<std::string>("57"));

  AnswerTally tally;
  for (Verdict verdict : {Verdict::Correct, Verdict::Correct, Verdict::Wrong, Verdict::Malformed}) tally.add(verdict);
  CHECK(tally.total() == 4);
  CHECK(tally.accuracy() == Approx(0.5));
  CHECK(AnswerTally{}.accuracy() == 0.0);
}
