#include "data/synthetic_task.h"

#include <array>
#include <random>
#include <unordered_set>

#include "core/error.h"
#include "data/synthetic_vocabulary.h"

namespace hybridize::data::synthetic {

namespace {

std::size_t digits(int value) { return std::to_string(value).size(); }

// mt19937_64 and plain modulo instead of std distributions, whose output the
// standard leaves to each library: problems must not change between machines.
int draw(std::mt19937_64& random, int bound) { return static_cast<int>(random() % static_cast<uint64_t>(bound)); }

int apply(char op, int x, int y, int modulus) {
  switch (op) {
    case '+':
      return (x + y) % modulus;
    case '-':
      return ((x - y) % modulus + modulus) % modulus;
    default:
      return (x * y) % modulus;
  }
}

Problem generate_problem(const TaskConfig& config, std::mt19937_64& random) {
  std::array<char, 26> names{};
  for (int i = 0; i < config.variable_count; ++i) names[i] = static_cast<char>('a' + i);
  std::array<int, 26> values{};
  std::array<bool, 26> defined{};
  std::vector<char> assignable;  // defined variables, in definition order

  Problem problem;
  // Initial variables: a random subset, in random order (partial Fisher-Yates).
  for (int i = 0; i < config.initial_variables; ++i) {
    std::swap(names[i], names[i + draw(random, config.variable_count - i)]);
    const char name = names[i];
    values[name - 'a'] = draw(random, config.modulus);
    defined[name - 'a'] = true;
    assignable.push_back(name);
    problem.question += std::string(1, name) + "=" + std::to_string(values[name - 'a']) + ";";
  }

  const int steps = config.min_steps + draw(random, config.max_steps - config.min_steps + 1);
  std::vector<char> targets;
  for (int step = 0; step < steps; ++step) {
    const char target = static_cast<char>('a' + draw(random, config.variable_count));
    // Two different operands (when there are two): x-x and x*x would make
    // answers skew towards 0 and the step need one lookup instead of two.
    const int defined_count = static_cast<int>(assignable.size());
    const int x_index = draw(random, defined_count);
    const int y_index = defined_count == 1 ? x_index : (x_index + 1 + draw(random, defined_count - 1)) % defined_count;
    const char x = assignable[x_index], y = assignable[y_index];
    const char op = "+-*"[draw(random, 3)];
    const int x_value = values[x - 'a'], y_value = values[y - 'a'];
    const int result = apply(op, x_value, y_value, config.modulus);
    problem.question += std::string{target, '=', x, op, y, ';'};
    problem.trace += std::string{target, '=', x} + std::to_string(x_value) + op + y + std::to_string(y_value) + "=" +
                     std::to_string(result) + ";";
    values[target - 'a'] = result;
    if (!defined[target - 'a']) assignable.push_back(target);
    defined[target - 'a'] = true;
    targets.push_back(target);
  }
  // Ask for a variable some step assigned, so the answer depends on the chain.
  const char query = targets[draw(random, static_cast<int>(targets.size()))];
  problem.question += std::string{'?', query};
  problem.answer = std::to_string(values[query - 'a']);
  problem.trace += query + problem.answer;
  return problem;
}

}  // namespace

void validate(const TaskConfig& config) {
  if (config.min_steps < 1) fail("synthetic task: min_steps ", config.min_steps, " must be at least 1");
  if (config.max_steps < config.min_steps)
    fail("synthetic task: max_steps ", config.max_steps, " is below min_steps ", config.min_steps);
  if (config.modulus < 2 || config.modulus > 1000)
    fail("synthetic task: modulus ", config.modulus, " must lie in [2, 1000]");
  if (config.variable_count < 1 || config.variable_count > 26)
    fail("synthetic task: variable_count ", config.variable_count, " must lie in [1, 26]");
  if (config.initial_variables < 1 || config.initial_variables > config.variable_count)
    fail("synthetic task: initial_variables ", config.initial_variables, " must lie in [1, variable_count ",
         config.variable_count, "]");
}

std::size_t max_problem_tokens(const TaskConfig& config) {
  validate(config);
  const std::size_t d = digits(config.modulus - 1);
  const std::size_t initial = config.initial_variables * (3 + d);  // "a=3;"
  const std::size_t step_question = 6;                             // "a=b+c;"
  const std::size_t step_trace = 7 + 3 * d;                        // "a=b3+c4=7;"
  // BOS, "?a", '>', the trace's last item "a3", '#', answer, EOS
  return 1 + initial + config.max_steps * (step_question + step_trace) + 2 + 1 + (1 + d) + 1 + d + 1;
}

std::string Problem::prompt() const { return kBos + question + kTraceSeparator; }

std::string Problem::completion() const { return trace + kAnswerSeparator + answer + kEos; }

Split split_of(std::string_view question) {
  uint64_t hash = 14695981039346656037ull;  // FNV-1a, fixed forever: splits must not move
  for (char c : question) hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  const uint64_t bucket = hash % 10;
  return bucket < 8 ? Split::Train : bucket == 8 ? Split::Validation : Split::Test;
}

std::vector<Problem> generate_split(const TaskConfig& config, Split split, std::size_t count, uint64_t seed) {
  validate(config);
  std::mt19937_64 random(seed);
  std::unordered_set<std::string> seen;
  std::vector<Problem> problems;
  problems.reserve(count);
  // Each split takes ~1/10 of the draws at worst; far more draws than that
  // without enough new questions means the configuration is too small.
  const uint64_t max_draws = 1000 + 100 * uint64_t(count);
  for (uint64_t draws = 0; problems.size() < count; ++draws) {
    if (draws == max_draws)
      fail("synthetic task: found only ", problems.size(), " distinct problems of ", count, " in ", max_draws,
           " draws; raise max_steps, modulus or variable_count");
    Problem problem = generate_problem(config, random);
    if (split_of(problem.question) == split && seen.insert(problem.question).second)
      problems.push_back(std::move(problem));
  }
  return problems;
}

}  // namespace hybridize::data::synthetic
