#pragma once
// Text for terminal output, errors and reports: human-readable numbers, bounded
// excerpts of user input; and plain string replacement.
#include <cstdint>
#include <string>
#include <string_view>

namespace hybridize {

std::string format_count(int64_t count);   // 15023456789 -> "15.02B"
std::string format_bytes(uint64_t bytes);  // 1536 -> "1.50 KiB"
std::string utc_timestamp();               // now: "2026-11-26T06:30:00Z"
// `text` as it is when short, else its first `limit` bytes and "... (N bytes
// more)": what an error line may quote of user input without growing unbounded.
std::string bounded_excerpt(std::string_view text, std::size_t limit = 200);
// `text` with every occurrence of `pattern` (not empty), left to right, replaced by `content`.
std::string replace_all(std::string_view text, std::string_view pattern, std::string_view content);

}  // namespace hybridize
