#pragma once
// The one exception type hybridize throws for bad input or a failed operation.
// Its message is a single line that names what failed and where (file, tensor,
// key, layer); main() prints it and exits non-zero.
#include <sstream>
#include <stdexcept>
#include <string>

namespace hybridize {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message);
};

// Builds the message from streamable parts: fail("file ", path, ": bad header").
template <class... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  std::ostringstream message;
  (message << ... << parts);
  throw Error(message.str());
}

// Runs `body`; an Error escaping it gets `context` ("loading model.safetensors: ")
// put in front, so low-level messages still say which file or tensor they concern.
template <class Body>
decltype(auto) with_context(const std::string& context, Body&& body) {
  try {
    return body();
  } catch (const Error& error) {
    throw Error(context + error.what());
  }
}

}  // namespace hybridize
