#include "data/chat_tokenization.h"

#include "core/error.h"

namespace hybridize::data {

TokenizedChat tokenize_chat(const Tokenizer& tokenizer, const std::vector<TextSegment>& segments) {
  std::string text;
  std::vector<std::size_t> segment_ends;  // byte offset where each segment ends
  for (const auto& segment : segments) {
    text += segment.text;
    segment_ends.push_back(text.size());
  }
  TokenizedChat result;
  result.ids = tokenizer.encode(text, false);

  const std::string prepended = tokenizer.prepended_text();
  std::size_t at = 0, segment = 0;
  for (std::size_t i = 0; i < result.ids.size(); ++i) {
    auto bytes = tokenizer.token_bytes(result.ids[i]);
    const bool added = tokenizer.is_added_token(result.ids[i]);
    const bool stretch_start = i == 0 || tokenizer.is_added_token(result.ids[i - 1]);
    // What the tokenizer put before a stretch of text spells no text: a Prepend
    // normalizer's text at its start, and elsewhere a space where the text has
    // none (ByteLevel's add_prefix_space, Metaspace).
    if (bytes && !added && stretch_start && !prepended.empty() && bytes->compare(0, prepended.size(), prepended) == 0)
      bytes->erase(0, prepended.size());
    else if (bytes && !added && tokenizer.inserts_leading_space() && !bytes->empty() && bytes->front() == ' ' &&
             text.compare(at, 1, " ") != 0)
      bytes->erase(0, 1);
    if (!bytes || text.compare(at, bytes->size(), *bytes) != 0)
      fail("token ", i, " (id ", result.ids[i], ") does not spell the text at byte ", at,
           ": the tokenizer changes the text (normalizer or white-space-stripping added token), so the loss mask "
           "cannot be placed");
    const std::size_t end = at + bytes->size();
    // Any trainable segment among those this token's bytes [at, end) touch?
    while (segment < segments.size() && segment_ends[segment] <= at) ++segment;
    bool trains = false;
    for (std::size_t s = segment; s < segments.size() && !trains; ++s) {
      trains = segments[s].trains && segment_ends[s] > at;
      if (segment_ends[s] >= end) break;
    }
    if (trains) {
      if (!result.trainable.empty() && result.trainable.back().end == i) {
        ++result.trainable.back().end;
      } else {
        result.trainable.push_back({i, i + 1});
      }
    }
    at = end;
  }
  if (at != text.size())
    fail("the tokens spell ", at, " of the text's ", text.size(), " bytes, so the loss mask cannot be placed");
  return result;
}

void check_chat_markers(const Tokenizer& tokenizer, const ChatTemplate& chat_template,
                        const std::string& tokenizer_file) {
  for (const std::string& marker : chat_template_markers(chat_template))
    if (!tokenizer.token_to_id(marker))
      fail(tokenizer_file, ": the ", chat_format_name(chat_template.format), " chat template needs the token '", marker,
           "', which is not in this tokenizer's vocabulary");
}

}  // namespace hybridize::data
