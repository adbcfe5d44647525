#pragma once
// Catch2 v2 (Debian, one header) and v3 (the GPU machine) behind one include.
#if __has_include(<catch2/catch_test_macros.hpp>)
#include <catch2/catch_approx.hpp>
#include <catch2/catch_test_macros.hpp>
using Catch::Approx;
#else
#include <catch2/catch.hpp>
#endif

#include <string>

#include "core/error.h"

// Requires `expr` to throw hybridize::Error whose one-line message contains `text`.
#define REQUIRE_ERROR(expr, text)                                   \
  do {                                                              \
    try {                                                           \
      (void)(expr);                                                 \
      FAIL("no error thrown; expected one containing: " << (text)); \
    } catch (const hybridize::Error& error_) {                      \
      const std::string message_ = error_.what();                   \
      INFO("message: " << message_);                                \
      CHECK(message_.find(text) != std::string::npos);              \
      CHECK(message_.find('\n') == std::string::npos);              \
    }                                                               \
  } while (0)
