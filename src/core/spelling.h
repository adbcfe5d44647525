#pragma once
// One table of an enum's spellings serves both directions: parsing a flag's
// value (with an error that lists every accepted spelling) and naming a value
// in settings, logs and the store.
#include <cstddef>
#include <string>

#include "core/error.h"

namespace hybridize {

template <class Enum>
struct Spelling {
  Enum value;
  const char* name;
};

// The value spelled `name`; otherwise throws Error "WHAT: 'name' is not one of a, b, c".
template <class Enum, std::size_t N>
Enum parse_spelling(const Spelling<Enum> (&table)[N], const std::string& name, const std::string& what) {
  std::string accepted;
  for (const auto& entry : table) {
    if (name == entry.name) return entry.value;
    accepted += (accepted.empty() ? "" : ", ") + std::string(entry.name);
  }
  fail(what, ": '", name, "' is not one of ", accepted);
}

template <class Enum, std::size_t N>
const char* spelling_of(const Spelling<Enum> (&table)[N], Enum value) {
  for (const auto& entry : table)
    if (entry.value == value) return entry.name;
  return "?";
}

}  // namespace hybridize
