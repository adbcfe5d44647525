#pragma once
// The tokenizer references tests/reference/make_tokenizer_reference.py made
// with HF tokenizers; CTest runs that script first and passes the directory in
// HYBRIDIZE_TOKENIZER_REFERENCE_DIR.
#include <cstdlib>
#include <filesystem>

#include "catch.h"

namespace hybridize::testing {

inline std::filesystem::path tokenizer_reference_dir() {
  const char* dir = std::getenv("HYBRIDIZE_TOKENIZER_REFERENCE_DIR");
  if (!dir) FAIL("HYBRIDIZE_TOKENIZER_REFERENCE_DIR is not set (run through ctest, which makes the references)");
  return dir;
}

}  // namespace hybridize::testing
