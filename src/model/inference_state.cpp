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
    : batch_(batch), max_length_(max_length) {
  if (batch < 1) fail("inference state: batch must be at least 1, got ", batch);
  if (max_length < 1) fail("inference state: max_length must be at least 1, got ", max_length);
  if (layout.size() != config.num_layers)
    fail("inference state: layout '", layout.to_string(), "' has ", layout.size(), " layers but the model has ",
         config.num_layers);
  const auto options = at::TensorOptions().dtype(dtype).device(device);
  lengths_ = at::zeros({batch}, options.dtype(at::kLong));
  active_ = at::ones({batch}, options.dtype(at::kLong));
  host_lengths_.assign(static_cast<std::size_t>(batch), 0);
  active_rows_.assign(static_cast<std::size_t>(batch), true);
  // Zeros, not empty: the reference attention multiplies masked-out cache slots
  // by zero weights, where garbage (a NaN) would poison the products.
  for (int64_t i = 0; i < layout.size(); ++i) {
    LayerCache cache;
    if (layout[i] == MixerKind::Attention) {
      cache.key = at::zeros({batch, max_length, config.num_kv_heads, config.head_dim}, options);
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

int64_t InferenceState::key_extent() const { return *std::max_element(host_lengths_.begin(), host_lengths_.end()); }

void InferenceState::start_sequence(int64_t row) {
  if (row < 0 || row >= batch_) fail("inference state: row ", row, " is outside the state's batch of ", batch_);
  if (active_rows_[row]) fail("inference state: row ", row, " already holds a sequence");
  // A Mamba layer's first chunk continues from this state: a new sequence starts from zeros.
  for (auto& layer : layers) {
    auto cache = layer.rows(row, 1);
    if (cache.conv.defined()) cache.conv.zero_();
    if (cache.ssm.defined()) cache.ssm.zero_();
  }
  active_rows_[row] = true;
  active_[row].fill_(1);
}

void InferenceState::end_sequence(int64_t row) {
  if (row < 0 || row >= batch_) fail("inference state: row ", row, " is outside the state's batch of ", batch_);
  active_rows_[row] = false;
  host_lengths_[row] = 0;
  active_[row].fill_(0);
  lengths_[row].fill_(0);
}

int64_t InferenceState::note_prefill(int64_t first_row, int64_t count, int64_t length) {
  if (first_row < 0 || count < 1 || first_row + count > batch_)
    fail("prefill: rows [", first_row, ", ", first_row + count, ") are outside the state's batch of ", batch_);
  const int64_t start = host_lengths_[first_row];
  for (int64_t row = first_row; row < first_row + count; ++row) {
    if (!active_rows_[row]) fail("prefill: row ", row, " holds no sequence (start_sequence first)");
    if (host_lengths_[row] != start)
      fail("prefill: rows of one chunk must hold sequences of one length; row ", row, " holds ", host_lengths_[row],
           " tokens, row ", first_row, " ", start);
  }
  if (start + length > max_length_)
    fail("prefill: ", start + length, " tokens exceed the state's max_length ", max_length_);
  for (int64_t row = first_row; row < first_row + count; ++row) host_lengths_[row] = start + length;
  lengths_.narrow(0, first_row, count).fill_(start + length);
  return start;
}

void InferenceState::advance_lengths() { lengths_.add_(active_); }

void InferenceState::note_decode_step() {
  for (int64_t row = 0; row < batch_; ++row)
    if (active_rows_[row]) ++host_lengths_[row];
}

bool InferenceState::is_prefilled() const {
  bool any = false;
  for (int64_t row = 0; row < batch_; ++row) {
    if (!active_rows_[row]) continue;
    if (host_lengths_[row] == 0) return false;
    any = true;
  }
  return any;
}

int64_t inference_state_bytes_per_sequence(const io::TransformerConfig& config, const Layout& layout,
                                           int64_t max_length, at::ScalarType dtype) {
  const int64_t element = static_cast<int64_t>(c10::elementSize(dtype));
  int64_t bytes = layout.count(MixerKind::Attention) * 2 * config.num_kv_heads * max_length * config.head_dim * element;
  if (layout.count(MixerKind::Mamba) > 0) {
    if (!config.ssm) fail("inference state: the layout has Mamba layers but the model config has no SSM settings");
    const auto& ssm = *config.ssm;
    bytes += layout.count(MixerKind::Mamba) *
             (ssm.conv_channels() * ssm.d_conv * element +
              ssm.d_inner * ssm.d_state * int64_t(c10::elementSize(ssm_state_dtype(dtype))));
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

const DecodeContext::FlashKeys& DecodeContext::flash_keys(int64_t max_length) {
  if (!flash_keys_) {
    const auto rows = at::arange(positions.size(0) + 1, positions.options().dtype(at::kInt));
    flash_keys_ = FlashKeys{rows, rows * static_cast<int32_t>(max_length), (positions + 1).to(at::kInt)};
  }
  return *flash_keys_;
}

}  // namespace hybridize::model
