#pragma once
// The fixed character-level vocabulary of the built-in synthetic reasoning
// task, so the demo needs no tokenizer file. Every token is one character, so
// encode and decode are exact inverses; the special tokens have characters of
// their own: '_' PAD, '^' BOS, '$' EOS, '>' between question and worked trace,
// '#' between trace and final answer.
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "data/token_source.h"

namespace hybridize::data::synthetic {

// Token id = position in this string. Never reorder: trained models depend on it.
inline constexpr std::string_view kAlphabet = "_^$>#0123456789abcdefghijklmnopqrstuvwxyz+-*=;?";
inline constexpr TokenId kVocabSize = static_cast<TokenId>(kAlphabet.size());
inline constexpr TokenId kPadId = 0;
inline constexpr TokenId kBosId = 1;
inline constexpr TokenId kEosId = 2;
inline constexpr char kBos = '^';
inline constexpr char kEos = '$';
inline constexpr char kTraceSeparator = '>';
inline constexpr char kAnswerSeparator = '#';

// Throws Error naming the character and its position when it is not in the vocabulary.
std::vector<TokenId> encode(std::string_view text);
// Throws Error naming the position of an id outside [0, kVocabSize).
std::string decode(std::span<const TokenId> ids);

}  // namespace hybridize::data::synthetic
