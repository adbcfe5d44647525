#include "model/rotary.h"

#include <cmath>
#include <numbers>
#include <vector>

#include "kernels/rotary_kernel.h"
#include "model/autocast_region.h"

namespace hybridize::model {

at::Tensor rope_inverse_frequencies(int64_t head_dim, double theta, const io::RopeScaling& scaling) {
  std::vector<float> frequencies;
  for (int64_t i = 0; i < head_dim; i += 2) {
    // Computed in fp32 like the reference, so positions far out still agree.
    const float exponent = static_cast<float>(i) / static_cast<float>(head_dim);
    float inv = 1.0f / std::pow(static_cast<float>(theta), exponent);
    if (scaling.type == io::RopeScalingType::Linear) {
      inv /= static_cast<float>(scaling.factor);
    } else if (scaling.type == io::RopeScalingType::Llama3) {
      const double context = static_cast<double>(scaling.original_max_position_embeddings);
      const double low_freq_wavelen = context / scaling.low_freq_factor;
      const double high_freq_wavelen = context / scaling.high_freq_factor;
      const double wavelen = 2 * std::numbers::pi / inv;
      if (wavelen > low_freq_wavelen) {
        inv /= static_cast<float>(scaling.factor);
      } else if (wavelen >= high_freq_wavelen) {  // between the two: interpolate smoothly
        const double smooth =
            (context / wavelen - scaling.low_freq_factor) / (scaling.high_freq_factor - scaling.low_freq_factor);
        inv = static_cast<float>((1 - smooth) * inv / scaling.factor + smooth * inv);
      }
    }
    frequencies.push_back(inv);
  }
  return torch::tensor(frequencies, at::kFloat);
}

RotaryEmbeddingImpl::RotaryEmbeddingImpl(const io::TransformerConfig& config, const at::Device& device) {
  inv_freq = register_buffer(
      "inv_freq", rope_inverse_frequencies(config.head_dim, config.rope_theta, config.rope_scaling).to(device));
}

std::pair<at::Tensor, at::Tensor> RotaryEmbeddingImpl::forward(const at::Tensor& positions, at::ScalarType dtype) {
  const auto angles = positions.to(at::kFloat).unsqueeze(-1) * inv_freq;  // [..., T, head_dim / 2]
  const auto full = at::cat({angles, angles}, -1);
  return {full.cos().to(dtype), full.sin().to(dtype)};
}

at::Tensor apply_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  // The rotated heads go to attention (decoding, which runs without autocast, also to the cache).
  const auto out_dtype = consumed_dtype(x.device().type(), at::promote_types(x.scalar_type(), cos.scalar_type()));
  return kernels::rotary(x, cos, sin, out_dtype);
}

}  // namespace hybridize::model
