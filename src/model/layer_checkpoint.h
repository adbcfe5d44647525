#pragma once
// Activation checkpointing of one decoder layer: the forward pass keeps only
// the layer's input, and the backward pass runs the layer again under autograd
// (in the forward's autocast state) and differentiates that. A layer's saved
// activations shrink to one [B, T, hidden] tensor for about one more forward
// pass of compute. LibTorch C++ has no torch.utils.checkpoint.
#include <ATen/ATen.h>

#include "model/decoder_layer.h"

namespace hybridize::model {

// layer(hidden, context), keeping only `hidden` for the backward pass. Without
// grad mode, or with nothing to differentiate, it is the plain forward.
at::Tensor checkpointed_layer_forward(const DecoderLayer& layer, const at::Tensor& hidden, MixerContext& context);

}  // namespace hybridize::model
