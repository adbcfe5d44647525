#include "model/layout.h"

#include <algorithm>

#include "core/error.h"

namespace hybridize::model {

char mixer_letter(MixerKind kind) { return kind == MixerKind::Attention ? 'A' : 'I'; }

std::string_view mixer_name(MixerKind kind) { return kind == MixerKind::Attention ? "attention" : "identity"; }

Layout Layout::all_attention(int64_t num_layers) {
  return Layout(std::vector<MixerKind>(static_cast<std::size_t>(num_layers), MixerKind::Attention));
}

Layout Layout::parse(std::string_view text, int64_t num_layers, std::string_view source) {
  if (static_cast<int64_t>(text.size()) != num_layers)
    fail(source, ": layout '", text, "' has ", text.size(), " layers but the model has ", num_layers);
  std::vector<MixerKind> layers;
  for (std::size_t i = 0; i < text.size(); ++i) {
    switch (text[i]) {
      case 'A': layers.push_back(MixerKind::Attention); break;
      case 'I': layers.push_back(MixerKind::Identity); break;
      default: fail(source, ": layout '", text, "' has unknown mixer letter '", text[i], "' at layer ", i, " (A = attention, I = identity)");
    }
  }
  return Layout(std::move(layers));
}

int64_t Layout::count(MixerKind kind) const { return std::count(layers_.begin(), layers_.end(), kind); }

std::string Layout::to_string() const {
  std::string text;
  for (MixerKind kind : layers_) text += mixer_letter(kind);
  return text;
}

}  // namespace hybridize::model
