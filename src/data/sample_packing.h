#pragma once
// Cuts a token corpus into fixed-length training samples of seq_len + 1 ids
// (inputs are ids [0, seq_len), targets ids [1, seq_len]). Consecutive samples
// share one id, so every id but the first is a target exactly once.
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "data/token_source.h"

namespace hybridize::data {

enum class DocumentBoundaries {
  PackAcross,  // documents are concatenated; a sample may span several
  Respect,     // no sample crosses a document boundary
};

// What happens to a last piece too short for a full sample (but with at least
// one input and target): the corpus's tail in PackAcross mode, each document's
// tail in Respect mode.
enum class PartialTail { Drop, Pad };

struct PackingOptions {
  std::size_t seq_len = 0;
  DocumentBoundaries boundaries = DocumentBoundaries::PackAcross;
  PartialTail tail = PartialTail::Drop;
  TokenId pad_id = -1;                     // required with PartialTail::Pad
  std::optional<uint64_t> shuffle_seed{};  // none: samples in corpus order
};

struct PackedSample {
  std::vector<TokenId> tokens;  // seq_len + 1 ids
  std::size_t real_tokens = 0;  // tokens[real_tokens..] are padding: no loss on those targets
  // One flag a token: whether tokens[i] is a loss target (predicted from
  // tokens[..i)); the loss uses loss_mask[1..]. From the corpus's trainable spans
  // (only assistant tokens in SFT data); always 0 on padding.
  std::vector<uint8_t> loss_mask;
};

class PackedSamples {
 public:
  // Keeps a reference to `source`, which must outlive this object.
  PackedSamples(const TokenSource& source, PackingOptions options);

  std::size_t size() const { return order_.size(); }
  // The index-th sample after shuffling; the same seed gives the same order on every machine.
  PackedSample sample(std::size_t index) const;

 private:
  struct Piece {
    std::size_t document;
    uint64_t begin;  // first id within the document (Respect) or the corpus (PackAcross)
  };
  void append_stream(uint64_t begin, uint64_t end, PackedSample& out) const;
  // Appends ids [begin, end) of one document and their loss-mask flags.
  void append_document(std::size_t document, uint64_t begin, uint64_t end, PackedSample& out) const;

  const TokenSource& source_;
  PackingOptions options_;
  std::vector<uint64_t> document_starts_;  // PackAcross: corpus offset of each document, then the total
  std::vector<Piece> pieces_;              // where each unshuffled sample starts
  std::vector<std::size_t> order_;         // sample index -> piece
};

}  // namespace hybridize::data
