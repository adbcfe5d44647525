#include "data/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <cstdio>
#include <optional>

#include "core/error.h"
#include "data/unicode_classes.h"
#include "data/utf8.h"

namespace hybridize::data {

namespace {

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  return pcre2_get_error_message(code, buffer, sizeof buffer) < 0 ? "error " + std::to_string(code)
                                                                  : reinterpret_cast<const char*>(buffer);
}

// Matching state for one call: match data, and a JIT stack large enough for
// long whitespace or letter runs (the default 32 KiB is not).
struct MatchState {
  pcre2_match_data* data;
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* stack = nullptr;

  explicit MatchState(const pcre2_code* code) : data(pcre2_match_data_create_from_pattern(code, nullptr)) {
    context = pcre2_match_context_create(nullptr);
    stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
    if (!data || !context || !stack) fail("regex: out of memory");
    pcre2_jit_stack_assign(context, nullptr, stack);
  }
  ~MatchState() {
    pcre2_jit_stack_free(stack);
    pcre2_match_context_free(context);
    pcre2_match_data_free(data);
  }
  MatchState(const MatchState&) = delete;
  MatchState& operator=(const MatchState&) = delete;
};

void append_ranges(std::string& out, const UnicodeClass& unicode_class) {
  char item[32];
  for (std::size_t i = 0; i < unicode_class.count; ++i) {
    const auto [first, last] = unicode_class.ranges[i];
    if (first == last)
      std::snprintf(item, sizeof item, "\\x{%X}", unsigned(first));
    else
      std::snprintf(item, sizeof item, "\\x{%X}-\\x{%X}", unsigned(first), unsigned(last));
    out += item;
  }
}

// `pattern` with every Unicode class escape the tables hold (\p{L}, \pN,
// \P{..}, \s, \S) spelled out as the code point ranges of data/unicode_classes.h:
// HF's answers, not the machine's PCRE2 tables.
std::string expand_unicode_classes(const std::string& pattern, const std::string& where) {
  std::string out;
  bool in_class = false;
  const std::size_t n = pattern.size();
  const auto closing = [&](std::size_t from, const char* what) {
    const std::size_t at = pattern.find(what, from);
    if (at == std::string::npos) fail(where, ": regex has an unterminated escape at offset ", from);
    return at;
  };
  for (std::size_t i = 0; i < n;) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < n) {
      const char escape = pattern[i + 1];
      std::optional<std::string> name;
      bool negated = false;
      std::size_t next = i + 2;
      if (escape == 'p' || escape == 'P') {
        negated = escape == 'P';
        if (next < n && pattern[next] == '{') {
          const std::size_t close = closing(next, "}");
          name = pattern.substr(next + 1, close - next - 1);
          next = close + 1;
        } else if (next < n) {
          name = pattern.substr(next++, 1);
        }
        if (name && !name->empty() && name->front() == '^') {
          negated = !negated;
          name->erase(0, 1);
        }
        if (!name) fail(where, ": regex ends in an incomplete \\p escape");
      } else if (escape == 's' || escape == 'S') {
        name = "s";
        negated = escape == 'S';
      }
      // Classes the tables lack (\p{Han}, \p{Alphabetic}, ...) stay PCRE2's.
      const UnicodeClass* unicode_class = name ? find_unicode_class(*name) : nullptr;
      if (unicode_class) {
        if (in_class) {
          if (negated) fail(where, ": a negated class escape (\\P, \\S) inside [...] is not supported");
          append_ranges(out, *unicode_class);
        } else {
          out += negated ? "[^" : "[";
          append_ranges(out, *unicode_class);
          out += "]";
        }
        i = next;
        continue;
      }
      if (escape == 'x' && i + 2 < n && pattern[i + 2] == '{') {  // \x{...} whole
        const std::size_t close = closing(i + 2, "}");
        out.append(pattern, i, close + 1 - i);
        i = close + 1;
        continue;
      }
      out.append(pattern, i, 2);
      i += 2;
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out += c;
      ++i;
      if (i < n && pattern[i] == '^') out += pattern[i++];
      if (i < n && pattern[i] == ']') out += pattern[i++];  // a literal ] first in the class
      continue;
    }
    if (in_class && c == '[' && i + 1 < n && pattern[i + 1] == ':') {  // [:name:]
      const std::size_t close = closing(i + 2, ":]");
      out.append(pattern, i, close + 2 - i);
      i = close + 2;
      continue;
    }
    if (in_class && c == ']') in_class = false;
    out += c;
    ++i;
  }
  return out;
}

}  // namespace

struct Regex::Compiled {
  pcre2_code* code = nullptr;
  std::string pattern;
  ~Compiled() { pcre2_code_free(code); }

  // Runs one match from `start`; returns false when there is none.
  bool match(MatchState& state, std::string_view text, size_t start, uint32_t options, size_t& begin,
             size_t& end) const {
    const int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), start,
                               options | PCRE2_NO_UTF_CHECK, state.data, state.context);
    if (rc == PCRE2_ERROR_NOMATCH) return false;
    if (rc < 0) fail("regex '", pattern, "': matching failed: ", pcre2_message(rc));
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(state.data);
    begin = ovector[0];
    end = ovector[1];
    return true;
  }
};

Regex::Regex(const std::string& pattern, const std::string& where) : compiled_(std::make_unique<Compiled>()) {
  int code = 0;
  PCRE2_SIZE offset = 0;
  compiled_->pattern = pattern;
  const std::string expanded = expand_unicode_classes(pattern, where);
  compiled_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(expanded.data()), expanded.size(), PCRE2_UTF | PCRE2_UCP,
                                  &code, &offset, nullptr);
  if (!compiled_->code) fail(where, ": regex does not compile at offset ", offset, ": ", pcre2_message(code));
  // JIT is an optimisation only: without it (no JIT support) the interpreter runs.
  pcre2_jit_compile(compiled_->code, PCRE2_JIT_COMPLETE);
}

Regex::~Regex() = default;
Regex::Regex(Regex&&) noexcept = default;
Regex& Regex::operator=(Regex&&) noexcept = default;

std::vector<std::pair<size_t, size_t>> Regex::find_all(std::string_view text) const {
  std::vector<std::pair<size_t, size_t>> matches;
  MatchState state(compiled_->code);
  size_t start = 0, begin = 0, end = 0;
  while (start <= text.size() && compiled_->match(state, text, start, 0, begin, end)) {
    matches.emplace_back(begin, end);
    if (end > begin) {
      start = end;
    } else if (end < text.size()) {
      start = end + utf8::sequence_length(text, end);
    } else {
      break;
    }
  }
  return matches;
}

bool Regex::matches_at_start(std::string_view text) const {
  MatchState state(compiled_->code);
  size_t begin = 0, end = 0;
  return compiled_->match(state, text, 0, PCRE2_ANCHORED, begin, end);
}

}  // namespace hybridize::data
