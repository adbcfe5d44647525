#pragma once
// Facts of the Megatron-LM indexed dataset (.bin/.idx pair) shared by reader
// and writer. The .bin holds the documents' token ids back to back. The .idx:
//   9 bytes   magic "MMIDIDX\0\0"
//   u64       version: 1 (Megatron-LM; Fast-LLM without spans); Fast-LLM's 2 and
//             3 add flag bytes here: u8 "has loss-masking spans", and in 3 also
//             u8 "has preference spans"
//   u8        dtype code of the .bin
//   u64       sequence count S
//   u64       document-index count D (= documents + 1)
//   i32 x S   sequence lengths in tokens
//   i64 x S   sequence byte offsets into the .bin
//   with loss-masking spans (versions 2-3, flag set):
//     i32 x S        span count of each document
//     i32 x 2 x N    spans [first, last] (both inclusive), document by document:
//                    tokens that are NOT loss targets (Fast-LLM's gpt_memmap)
//     (version 3 with preference spans: i32 x 2 x S chosen, then rejected)
//   i64 x D   document indices (0, ..., S); version 1 optionally i8 x S modes
// All little-endian. Every "sequence" is one document for GPT training.
#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string_view>

#include "data/token_source.h"

namespace hybridize::data::megatron {

inline constexpr std::string_view kMagic{"MMIDIDX\0\0", 9};
inline constexpr uint64_t kVersion = 1;               // what the writer writes without spans
inline constexpr uint64_t kSpansVersion = 3;          // ... and with loss-masking spans, as Fast-LLM does
inline constexpr uint64_t kNewestFastLlmVersion = 3;  // newest layout the reader knows

// Codes of the dtype byte; 6 and 7 are floating point (Megatron and Fast-LLM
// disagree on which is float32), never token ids.
std::optional<TokenDType> dtype_from_code(uint8_t code);
std::optional<uint8_t> code_from_dtype(TokenDType dtype);

// "<prefix>.bin" and "<prefix>.idx"; the prefix may itself contain dots.
std::filesystem::path bin_path(const std::filesystem::path& prefix);
std::filesystem::path idx_path(const std::filesystem::path& prefix);

// Megatron's own choice: uint16 below 65500 ids, int32 above.
TokenDType dtype_for_vocab(TokenId vocab_size);

}  // namespace hybridize::data::megatron
