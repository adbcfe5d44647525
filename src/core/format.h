#pragma once
// Human-readable numbers for terminal output and reports.
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

}  // namespace hybridize
