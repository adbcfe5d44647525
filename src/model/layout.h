#pragma once
// A hybrid layout: which sequence mixer each decoder layer uses. Written as a
// string of one letter a layer ("AAMIA..."): A = attention, M = Mamba,
// I = identity (the mixer removed, as in leave-one-out ablations). Apriel-H
// checkpoints spell the same as a list of block types: "t", "m2", "i".
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "io/hf_config.h"

namespace hybridize::model {

enum class MixerKind { Attention, Mamba, Identity };

char mixer_letter(MixerKind kind);
std::string_view mixer_name(MixerKind kind);

class Layout {
 public:
  Layout() = default;
  explicit Layout(std::vector<MixerKind> layers) : layers_(std::move(layers)) {}
  static Layout all_attention(int64_t num_layers);
  // `source` names where the text came from (a config key, a flag) in errors.
  static Layout parse(std::string_view text, int64_t num_layers, std::string_view source);
  // From/to config.json's hybrid_block_layout (already validated by io).
  static Layout from_block_types(const std::vector<std::string>& blocks);
  // The layout a checkpoint's config stores: its hybrid_block_layout, or all
  // attention for a plain transformer.
  static Layout saved_in(const io::TransformerConfig& config);
  std::vector<std::string> block_types() const;

  int64_t size() const { return static_cast<int64_t>(layers_.size()); }
  MixerKind operator[](int64_t layer) const { return layers_.at(layer); }
  int64_t count(MixerKind kind) const;
  // This layout with each of `layers` set to `kind`; throws Error naming a layer out of range.
  Layout with(MixerKind kind, const std::vector<int64_t>& layers) const;
  std::string to_string() const;
  bool operator==(const Layout&) const = default;

 private:
  std::vector<MixerKind> layers_;
};

}  // namespace hybridize::model
