#pragma once
// Turns a rendered conversation (chat_template.h) into token ids and the spans
// of tokens the loss covers.
#include <cstdint>
#include <string>
#include <vector>

#include "data/chat_template.h"
#include "data/token_source.h"
#include "data/tokenizer.h"

namespace hybridize::data {

struct TokenizedChat {
  std::vector<int32_t> ids;
  std::vector<TokenSpan> trainable;  // ordered, disjoint, non-empty
};

// Encodes the whole rendered text in one piece (no special tokens added: the
// template writes its own), so the ids are exactly HF's encoding of it. A token
// trains when any of its bytes comes from a trainable segment: a token that a
// boundary cuts through is one the model has to produce. Throws Error when the
// tokens do not spell the text byte for byte (a normalizer that changes it, or
// an added token that strips white space), since the mask could not be placed.
TokenizedChat tokenize_chat(const Tokenizer& tokenizer, const std::vector<TextSegment>& segments);

// Throws Error naming the tokenizer file and the first marker of the template
// that is not one token of its vocabulary.
void check_chat_markers(const Tokenizer& tokenizer, const ChatTemplate& chat_template,
                        const std::string& tokenizer_file);

}  // namespace hybridize::data
