#include "data/answer_checker.h"

#include <array>
#include <cctype>
#include <cstdint>
#include <utility>

#include "core/format.h"

namespace hybridize::data {

namespace {

constexpr std::string_view kThinkingStart = "<think>";
constexpr std::array<std::string_view, 2> kThinkingEnds = {"</think>", "[BEGIN FINAL RESPONSE]"};
constexpr std::string_view kFinalResponseEnd = "[END FINAL RESPONSE]";
constexpr std::string_view kGsm8kMarker = "####";

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_letter(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }

std::string_view trim(std::string_view text) {
  const auto begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return {};
  return text.substr(begin, text.find_last_not_of(" \t\r\n") - begin + 1);
}

// The text inside the braces that open at `open` (text[open] == '{'), balanced; nullopt when they never close.
std::optional<std::string_view> braced(std::string_view text, std::size_t open) {
  if (open >= text.size() || text[open] != '{') return std::nullopt;
  int depth = 0;
  for (std::size_t i = open; i < text.size(); ++i) {
    if (text[i] == '{') ++depth;
    if (text[i] == '}' && --depth == 0) return text.substr(open + 1, i - open - 1);
  }
  return std::nullopt;
}

// The content of the last complete \boxed{...} or \fbox{...} ("\boxed 5" too).
std::optional<std::string_view> last_boxed(std::string_view text) {
  std::optional<std::string_view> found;
  std::size_t found_at = 0;
  for (const std::string_view command : {std::string_view("\\boxed"), std::string_view("\\fbox")}) {
    for (std::size_t at = text.rfind(command); at != std::string_view::npos;
         at = at == 0 ? std::string_view::npos : text.rfind(command, at - 1)) {
      if (found && at < found_at) break;
      const std::size_t after = at + command.size();
      std::optional<std::string_view> content;
      if (after < text.size() && text[after] == '{') {
        content = braced(text, after);
      } else if (after < text.size() && text[after] == ' ') {
        const std::size_t begin = text.find_first_not_of(' ', after);
        if (begin != std::string_view::npos) content = text.substr(begin, text.find_first_of(" $\n", begin) - begin);
      }
      if (content) {
        found = content;
        found_at = at;
        break;
      }
    }
  }
  return found;
}

// An exact rational p/q from a decimal, an integer fraction or \frac{p}{q}, with commas between digit groups.
struct Rational {
  __int128 numerator = 0, denominator = 1;
  // Lowest terms with a positive denominator: the one spelling two equal values share.
  Rational reduced() const {
    __int128 a = numerator < 0 ? -numerator : numerator, b = denominator < 0 ? -denominator : denominator;
    while (b != 0) a = std::exchange(b, a % b);
    const __int128 sign = denominator < 0 ? -1 : 1;
    return a == 0 ? Rational{} : Rational{sign * numerator / a, sign * denominator / a};
  }
  bool operator==(const Rational& other) const {
    const Rational a = reduced(), b = other.reduced();
    return a.numerator == b.numerator && a.denominator == b.denominator;
  }
};

constexpr int kMaxDigits = 18;  // products of two such numbers stay inside 128 bits

// Parses [-+]digits[,ddd]*[.digits] or [-+].digits; nullopt unless it is the whole text.
std::optional<Rational> parse_decimal(std::string_view text) {
  Rational value;
  std::size_t i = 0;
  const bool negative = i < text.size() && text[i] == '-';
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) ++i;
  int digits = 0;
  bool any = false, point = false;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (is_digit(c)) {
      if (++digits > kMaxDigits) return std::nullopt;
      value.numerator = value.numerator * 10 + (c - '0');
      if (point) value.denominator *= 10;
      any = true;
    } else if (c == ',' && !point && any && i + 3 < text.size() && is_digit(text[i + 1]) && is_digit(text[i + 2]) &&
               is_digit(text[i + 3]) && (i + 4 == text.size() || !is_digit(text[i + 4]))) {
      continue;
    } else if (c == '.' && !point) {
      point = true;
    } else {
      return std::nullopt;
    }
  }
  if (!any) return std::nullopt;
  if (negative) value.numerator = -value.numerator;
  return value;
}

std::optional<Rational> parse_rational(std::string_view text) {
  text = trim(text);
  bool negative = false;
  if (text.starts_with("-\\frac")) {
    negative = true;
    text.remove_prefix(1);
  }
  std::optional<Rational> top, bottom;
  if (text.starts_with("\\frac{")) {
    const auto first = braced(text, 5);
    if (!first) return std::nullopt;
    const std::size_t second_open = 5 + first->size() + 2;
    const auto second = braced(text, second_open);
    if (!second || second_open + second->size() + 2 != text.size()) return std::nullopt;
    top = parse_decimal(*first);
    bottom = parse_decimal(*second);
  } else if (const auto slash = text.find('/'); slash != std::string_view::npos) {
    top = parse_decimal(text.substr(0, slash));
    bottom = parse_decimal(text.substr(slash + 1));
  } else {
    return parse_decimal(text);
  }
  if (!top || !bottom || bottom->numerator == 0) return std::nullopt;
  Rational value{top->numerator * bottom->denominator, top->denominator * bottom->numerator};
  if (negative) value.numerator = -value.numerator;
  return value;
}

// The number that starts at text[begin] (a digit, or '-'/'.' before one): digits with comma groups, a
// decimal part, a "/digits" denominator. Returns its end.
std::size_t number_end(std::string_view text, std::size_t begin) {
  std::size_t i = begin;
  if (text[i] == '-') ++i;
  auto digits = [&] {
    while (i < text.size() && is_digit(text[i])) ++i;
  };
  digits();
  while (i + 3 < text.size() && text[i] == ',' && is_digit(text[i + 1]) && is_digit(text[i + 2]) &&
         is_digit(text[i + 3]) && (i + 4 == text.size() || !is_digit(text[i + 4]))) {
    i += 4;
  }
  if (i + 1 < text.size() && text[i] == '.' && is_digit(text[i + 1])) {
    ++i;
    digits();
  }
  if (i + 1 < text.size() && text[i] == '/' && is_digit(text[i + 1])) {
    ++i;
    digits();
  }
  return i;
}

bool starts_number(std::string_view text, std::size_t i) {
  if (is_digit(text[i])) return i == 0 || (text[i - 1] != '.' && !is_digit(text[i - 1]));
  const bool digit_next = i + 1 < text.size() && is_digit(text[i + 1]);
  const bool dot_digit_next = i + 2 < text.size() && text[i + 1] == '.' && is_digit(text[i + 2]);
  // A minus is a sign only where it follows no word or number: "3-4" is two numbers, not 3 and -4.
  const bool after_word = i > 0 && (is_digit(text[i - 1]) || is_letter(text[i - 1]));
  return text[i] == '-' && !after_word && (digit_next || dot_digit_next);
}

// The first number of `text` (after leading spaces and "$") when it opens the text.
std::optional<std::string> leading_number(std::string_view text) {
  const std::size_t begin = text.find_first_not_of(" \t\r\n$*:");
  if (begin == std::string_view::npos || !starts_number(text, begin)) return std::nullopt;
  return std::string(text.substr(begin, number_end(text, begin) - begin));
}

std::optional<std::string> last_number(std::string_view text) {
  std::optional<std::string> last;
  for (std::size_t i = 0; i < text.size();) {
    if (starts_number(text, i)) {
      const std::size_t end = number_end(text, i);
      if (end > i + (text[i] == '-' ? 1 : 0)) {
        last = std::string(text.substr(i, end - i));
        i = end;
        continue;
      }
    }
    ++i;
  }
  return last;
}

std::optional<std::string> extract_numeric(std::string_view response) {
  for (std::size_t at = response.rfind(kGsm8kMarker); at != std::string_view::npos;
       at = at == 0 ? std::string_view::npos : response.rfind(kGsm8kMarker, at - 1)) {
    if (auto number = leading_number(response.substr(at + kGsm8kMarker.size()))) return number;
  }
  if (const auto boxed = last_boxed(response)) {
    if (auto number = last_number(*boxed)) return number;
  }
  return last_number(response);
}

// Replaces \name{X} by X everywhere.
std::string unwrap_command(std::string text, std::string_view name) {
  for (std::size_t at = text.find(name); at != std::string::npos; at = text.find(name, at)) {
    const auto content = braced(text, at + name.size());
    if (!content) {
      at += name.size();
      continue;
    }
    const std::string inner(*content);
    text.replace(at, name.size() + content->size() + 2, inner);
  }
  return text;
}

// \frac12 -> \frac{1}{2}, \frac1{2} -> \frac{1}{2}, \sqrt2 -> \sqrt{2}: one-character arguments braced.
std::string brace_short_arguments(const std::string& text, std::string_view command, int arguments) {
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    if (text.compare(i, command.size(), command) != 0) {
      out += text[i++];
      continue;
    }
    out += command;
    i += command.size();
    for (int a = 0; a < arguments && i < text.size(); ++a) {
      if (text[i] == '{') {
        const auto content = braced(text, i);
        if (!content) break;
        out += "{" + std::string(*content) + "}";
        i += content->size() + 2;
      } else if (text[i] != '\\') {
        out += std::string("{") + text[i] + "}";
        ++i;
      }
    }
  }
  return out;
}

std::string canonical_decimal(const Rational& value, std::string_view text) {
  // Keeps the digits as written, less sign noise, commas and trailing fractional zeros.
  std::string digits;
  for (char c : text)
    if (c != ',' && c != '+') digits += c;
  if (digits.find('.') != std::string::npos) {
    while (digits.back() == '0') digits.pop_back();
    if (digits.back() == '.') digits.pop_back();
  }
  if (digits.starts_with(".")) digits.insert(0, "0");
  if (digits.starts_with("-.")) digits.insert(1, "0");
  if (value.numerator == 0) return "0";
  return digits;
}

std::string normalize_boxed(std::string_view answer) {
  std::string text(trim(answer));
  for (const char* noise : {"\\left", "\\right", "\\displaystyle", "\\!", "\\,", "\\;", "\\:", "\\ ", "^{\\circ}",
                            "^\\circ", "\\$", "$", "\\%", "%"})
    text = replace_all(text, noise, "");
  text = replace_all(text, "\\dfrac", "\\frac");
  text = replace_all(text, "\\tfrac", "\\frac");
  // Units written as trailing text: "10 \text{ cm}" is 10.
  for (const char* command : {"\\text{", "\\mbox{"}) {
    const std::size_t at = text.rfind(command);
    if (at != std::string::npos && at > 0) {
      const auto content = braced(text, at + std::string_view(command).size() - 1);
      if (content && at + std::string_view(command).size() + content->size() + 1 == text.size() &&
          !trim(std::string_view(text).substr(0, at)).empty())
        text.erase(at);
    }
  }
  for (const char* command : {"\\text", "\\textbf", "\\mathrm", "\\mbox"}) text = unwrap_command(text, command);
  std::string compact;
  for (char c : text)
    if (!std::isspace(static_cast<unsigned char>(c))) compact += c;
  compact = brace_short_arguments(compact, "\\frac", 2);
  compact = brace_short_arguments(compact, "\\sqrt", 1);
  // "x=5" answers 5: a short left-hand side is a variable's name.
  if (const auto equals = compact.find('=');
      equals != std::string::npos && equals <= 2 && compact.find('=', equals + 1) == std::string::npos)
    compact.erase(0, equals + 1);
  while (!compact.empty() && compact.back() == '.') compact.pop_back();
  if (const auto value = parse_decimal(compact)) return canonical_decimal(*value, compact);
  if (const auto slash = compact.find('/'); slash != std::string::npos) {
    const auto top = compact.substr(0, slash), bottom = compact.substr(slash + 1);
    if (parse_decimal(top) && parse_decimal(bottom)) return "\\frac{" + top + "}{" + bottom + "}";
  }
  return compact;
}

std::optional<char> choice_letter(std::string_view text) {
  std::string letters;
  for (char c : text)
    if (!std::isspace(static_cast<unsigned char>(c)) && c != '(' && c != ')' && c != '.' && c != '*' && c != ':' &&
        c != '$')
      letters += c;
  letters = unwrap_command(letters, "\\text");
  letters = unwrap_command(letters, "\\textbf");
  if (letters.size() == 1 && letters[0] >= 'A' && letters[0] <= 'J') return letters[0];
  return std::nullopt;
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::optional<std::string> extract_choice(std::string_view response) {
  if (const auto boxed = last_boxed(response)) {
    if (const auto letter = choice_letter(*boxed)) return std::string(1, *letter);
  }
  // The last "answer is X" or "answer: X" whose X is a lone letter.
  const std::string lower = lowercase(response);
  std::optional<std::pair<std::size_t, char>> best;
  for (const std::string_view phrase : {std::string_view("answer is"), std::string_view("answer:")}) {
    for (std::size_t at = lower.find(phrase); at != std::string::npos; at = lower.find(phrase, at + 1)) {
      std::size_t i = at + phrase.size();
      while (i < response.size() && (response[i] == ' ' || response[i] == '(' || response[i] == '*' ||
                                     response[i] == ':' || response[i] == '$'))
        ++i;
      if (response.substr(i).starts_with("\\boxed{")) i += 7;
      if (i < response.size() && response[i] >= 'A' && response[i] <= 'J' &&
          (i + 1 == response.size() || !is_letter(response[i + 1])) && (!best || at > best->first))
        best = std::pair{at, response[i]};
    }
  }
  if (best) return std::string(1, best->second);
  if (const auto letter = choice_letter(response)) return std::string(1, *letter);
  return std::nullopt;
}

// A reference as task files write them: GSM8k's "...#### 42" and MATH's "\boxed{..}" unwrapped.
std::string unwrap_reference(AnswerKind kind, std::string_view reference) {
  if (kind == AnswerKind::Numeric) {
    if (const auto at = reference.rfind(kGsm8kMarker); at != std::string_view::npos)
      return std::string(trim(reference.substr(at + kGsm8kMarker.size())));
  }
  if (kind == AnswerKind::Boxed) {
    if (const auto boxed = last_boxed(reference)) return std::string(*boxed);
  }
  return std::string(trim(reference));
}

}  // namespace

std::optional<std::string_view> final_response(std::string_view generated, bool prompt_opens_thinking) {
  std::size_t end = std::string_view::npos, length = 0;
  for (const auto marker : kThinkingEnds) {
    const std::size_t at = generated.rfind(marker);
    if (at != std::string_view::npos && (end == std::string_view::npos || at > end)) {
      end = at;
      length = marker.size();
    }
  }
  if (end == std::string_view::npos)
    return prompt_opens_thinking || generated.find(kThinkingStart) != std::string_view::npos ? std::nullopt
                                                                                             : std::optional(generated);
  std::string_view response = generated.substr(end + length);
  return response.substr(0, response.find(kFinalResponseEnd));
}

bool opens_thinking(std::string_view prompt) {
  const std::size_t start = prompt.rfind(kThinkingStart);
  if (start == std::string_view::npos) return false;
  for (const auto marker : kThinkingEnds) {
    const std::size_t end = prompt.rfind(marker);
    if (end != std::string_view::npos && end > start) return false;
  }
  return true;
}

std::optional<std::string> extract_answer(AnswerKind kind, std::string_view response) {
  switch (kind) {
    case AnswerKind::Numeric:
      return extract_numeric(response);
    case AnswerKind::Boxed: {
      const auto boxed = last_boxed(response);
      return boxed ? std::optional(std::string(trim(*boxed))) : std::nullopt;
    }
    case AnswerKind::Choice:
      return extract_choice(response);
  }
  return std::nullopt;
}

std::string normalize_answer(AnswerKind kind, std::string_view answer) {
  switch (kind) {
    case AnswerKind::Numeric: {
      std::string text;
      for (char c : trim(answer))
        if (c != '$' && c != ' ') text += c;
      const auto value = parse_decimal(text);
      return value ? canonical_decimal(*value, text) : text;
    }
    case AnswerKind::Boxed:
      return normalize_boxed(answer);
    case AnswerKind::Choice:
      return std::string(trim(answer));
  }
  return std::string(answer);
}

bool answers_match(AnswerKind kind, std::string_view extracted, std::string_view reference) {
  const std::string expected = unwrap_reference(kind, reference);
  const std::string got = normalize_answer(kind, extracted), want = normalize_answer(kind, expected);
  if (got == want) return true;
  if (kind == AnswerKind::Choice) return false;
  const auto a = parse_rational(got), b = parse_rational(want);
  return a && b && *a == *b;
}

std::string_view outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::Correct:
      return "correct";
    case Outcome::Wrong:
      return "wrong";
    case Outcome::NoAnswer:
      return "no_answer";
  }
  return "?";
}

Judgement judge_answer(const EvalProblem& problem, std::string_view generated, bool prompt_opens_thinking) {
  const auto response = final_response(generated, prompt_opens_thinking);
  if (!response) return {};
  const auto extracted = extract_answer(problem.kind, *response);
  if (!extracted || extracted->empty()) return {};
  return {answers_match(problem.kind, *extracted, problem.answer) ? Outcome::Correct : Outcome::Wrong, *extracted};
}

}  // namespace hybridize::data
