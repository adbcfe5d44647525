#include "model/layout.h"

#include <algorithm>

#include "core/error.h"

namespace hybridize::model {

namespace {
struct MixerSpelling {
  MixerKind kind;
  char letter;
  std::string_view name;
  std::string_view block_type;  // Apriel-H hybrid_block_layout entry
};
constexpr MixerSpelling kSpellings[] = {
    {MixerKind::Attention, 'A', "attention", "t"},
    {MixerKind::Mamba, 'M', "mamba", "m2"},
    {MixerKind::Identity, 'I', "identity", ""},  // an ablation, not an Apriel-H block type
};
const MixerSpelling& spelling(MixerKind kind) {
  for (const auto& s : kSpellings)
    if (s.kind == kind) return s;
  fail("unknown mixer kind ", static_cast<int>(kind));
}
}  // namespace

char mixer_letter(MixerKind kind) { return spelling(kind).letter; }

std::string_view mixer_name(MixerKind kind) { return spelling(kind).name; }

Layout Layout::all_attention(int64_t num_layers) {
  return Layout(std::vector<MixerKind>(static_cast<std::size_t>(num_layers), MixerKind::Attention));
}

Layout Layout::parse(std::string_view text, int64_t num_layers, std::string_view source) {
  if (static_cast<int64_t>(text.size()) != num_layers)
    fail(source, ": layout '", text, "' has ", text.size(), " layers but the model has ", num_layers);
  std::vector<MixerKind> layers;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto* found = std::find_if(std::begin(kSpellings), std::end(kSpellings),
                                     [&](const MixerSpelling& s) { return s.letter == text[i]; });
    if (found == std::end(kSpellings))
      fail(source, ": layout '", text, "' has unknown mixer letter '", text[i], "' at layer ", i,
           " (A = attention, M = Mamba, I = identity)");
    layers.push_back(found->kind);
  }
  return Layout(std::move(layers));
}

Layout Layout::from_block_types(const std::vector<std::string>& blocks) {
  std::vector<MixerKind> layers;
  for (const auto& block : blocks) {
    const auto* found = std::find_if(std::begin(kSpellings), std::end(kSpellings),
                                     [&](const MixerSpelling& s) { return !block.empty() && s.block_type == block; });
    if (found == std::end(kSpellings)) fail("hybrid_block_layout: unknown block type '", block, "'");
    layers.push_back(found->kind);
  }
  return Layout(std::move(layers));
}

Layout Layout::saved_in(const io::TransformerConfig& config) {
  return config.hybrid_block_layout.empty() ? all_attention(config.num_layers)
                                            : from_block_types(config.hybrid_block_layout);
}

std::vector<std::string> Layout::block_types() const {
  std::vector<std::string> blocks;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const auto type = spelling(layers_[i]).block_type;
    if (type.empty())
      fail("layout '", to_string(), "': layer ", i, " is ", spelling(layers_[i]).name,
           ", which Apriel-H checkpoints cannot store");
    blocks.emplace_back(type);
  }
  return blocks;
}

Layout Layout::with(MixerKind kind, const std::vector<int64_t>& layers) const {
  auto changed = layers_;
  for (const int64_t layer : layers) {
    if (layer < 0 || layer >= size()) fail("layout '", to_string(), "' has no layer ", layer);
    changed[static_cast<std::size_t>(layer)] = kind;
  }
  return Layout(std::move(changed));
}

int64_t Layout::count(MixerKind kind) const { return std::count(layers_.begin(), layers_.end(), kind); }

std::string Layout::to_string() const {
  std::string text;
  for (MixerKind kind : layers_) text += mixer_letter(kind);
  return text;
}

}  // namespace hybridize::model
