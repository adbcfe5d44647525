#include "model/inference_state.h"

#include <algorithm>

#include "core/error.h"
#include "model/causal_lm.h"

namespace hybridize::model {

namespace {
// fp32 whatever the model dtype, as the scan keeps it (double stays double, for exact tests).
at::ScalarType ssm_state_dtype(at::ScalarType dtype) { return dtype == at::kDouble ? at::kDouble : at::kFloat; }

at::Tensor rows_of(const at::Tensor& t, int64_t first, int64_t count) {
  return t.defined() ? t.narrow(0, first, count) : t;
}
}  // namespace

LayerCache LayerCache::rows(int64_t first, int64_t count) const {
  return {rows_of(key, first, count), rows_of(value, first, count), rows_of(conv, first, count),
          rows_of(ssm, first, count)};
}

InferenceState::InferenceState(const io::TransformerConfig& config, const Layout& layout, int64_t batch,
                               int64_t max_length, at::ScalarType dtype, at::Device device)
    : batch_(batch), max_length_(max_length), prefilled_rows_(static_cast<std::size_t>(batch), false) {
  if (batch < 1) fail("inference state: batch must be at least 1, got ", batch);
  if (max_length < 1) fail("inference state: max_length must be at least 1, got ", max_length);
  if (layout.size() != config.num_layers)
    fail("inference state: layout '", layout.to_string(), "' has ", layout.size(), " layers but the model has ",
         config.num_layers);
  const auto options = at::TensorOptions().dtype(dtype).device(device);
  lengths_ = at::zeros({batch}, options.dtype(at::kLong));
  // Zeros, not empty: masked-out cache slots still enter the attention products,
  // where garbage (a NaN) would poison them.
  for (int64_t i = 0; i < layout.size(); ++i) {
    LayerCache cache;
    if (layout[i] == MixerKind::Attention) {
      cache.key = at::zeros({batch, config.num_kv_heads, max_length, config.head_dim}, options);
      cache.value = at::zeros_like(cache.key);
    } else if (layout[i] == MixerKind::Mamba) {
      if (!config.ssm) fail("inference state: layer ", i, " is Mamba but the model config has no SSM settings");
      const auto& ssm = *config.ssm;
      cache.conv = at::zeros({batch, ssm.conv_channels(), ssm.d_conv}, options);
      cache.ssm = at::zeros({batch, ssm.d_inner, ssm.d_state}, options.dtype(ssm_state_dtype(dtype)));
    }
    layers.push_back(std::move(cache));
  }
}

InferenceState::InferenceState(CausalLMImpl& model, int64_t batch, int64_t max_length)
    : InferenceState(model.config, model.layout, batch, max_length, model.model->embed_tokens->weight.scalar_type(),
                     model.model->embed_tokens->weight.device()) {}

void InferenceState::note_prefill(int64_t first_row, int64_t count, int64_t length) {
  if (first_row < 0 || count < 1 || first_row + count > batch_)
    fail("prefill: rows [", first_row, ", ", first_row + count, ") are outside the state's batch of ", batch_);
  if (length > max_length_) fail("prefill: ", length, " tokens exceed the state's max_length ", max_length_);
  for (int64_t row = first_row; row < first_row + count; ++row) {
    if (prefilled_rows_[row]) fail("prefill: row ", row, " already holds a sequence");
    prefilled_rows_[row] = true;
  }
  lengths_.narrow(0, first_row, count).fill_(length);
  key_extent_ = std::max(key_extent_, length);
}

void InferenceState::advance_lengths() { lengths_.add_(1); }

void InferenceState::note_decode_step() { ++key_extent_; }

int64_t InferenceState::bucketed_key_extent(int64_t extent) const {
  return std::min(max_length_, (extent + key_bucket_ - 1) / key_bucket_ * key_bucket_);
}

void InferenceState::set_key_bucket(int64_t tokens) {
  if (tokens < 1) fail("inference state: a key bucket must span at least 1 token, got ", tokens);
  key_bucket_ = tokens;
}

bool InferenceState::is_prefilled() const {
  return std::all_of(prefilled_rows_.begin(), prefilled_rows_.end(), [](bool b) { return b; });
}

int64_t inference_state_bytes_per_sequence(const io::TransformerConfig& config, const Layout& layout,
                                           int64_t max_length, at::ScalarType dtype) {
  const int64_t element = static_cast<int64_t>(c10::elementSize(dtype));
  int64_t bytes = layout.count(MixerKind::Attention) * 2 * config.num_kv_heads * max_length * config.head_dim * element;
  if (layout.count(MixerKind::Mamba) > 0) {
    if (!config.ssm) fail("inference state: the layout has Mamba layers but the model config has no SSM settings");
    const auto& ssm = *config.ssm;
    bytes += layout.count(MixerKind::Mamba) *
             (ssm.conv_channels() * ssm.d_conv * element + ssm.d_inner * ssm.d_state * int64_t(c10::elementSize(ssm_state_dtype(dtype))));
  }
  return bytes;
}

DecodeContext::DecodeContext(at::Tensor positions_, at::Tensor cos_, at::Tensor sin_, int64_t key_extent_)
    : positions(std::move(positions_)), cos(std::move(cos_)), sin(std::move(sin_)), key_extent(key_extent_) {}

const at::Tensor& DecodeContext::key_mask(int64_t window) {
  auto& mask = masks_[window];
  if (!mask.defined()) {
    const auto keys = at::arange(key_extent, positions.options());
    const auto back = positions.unsqueeze(1) - keys.unsqueeze(0);  // [batch, keys]: how far behind the query
    auto allowed = back.ge(0);
    if (window > 0) allowed = allowed.logical_and(back.lt(window));
    mask = allowed.view({positions.size(0), 1, 1, key_extent});
  }
  return mask;
}

}  // namespace hybridize::model
