#include "infer/decode_graphs.h"

#include "core/error.h"

#ifdef HYBRIDIZE_HAVE_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/cuda.h>
#endif

namespace hybridize::infer {

#ifdef HYBRIDIZE_HAVE_CUDA

struct DecodeGraphs::Captured {
  explicit Captured(at::Device device) : stream(at::cuda::getStreamFromPool(false, device.index())) {}

  at::cuda::CUDAStream stream;  // captures cannot run on the default stream
  at::Tensor input_ids;         // static: each step copies its tokens here, where the graph reads them
  std::unique_ptr<at::cuda::CUDAGraph> graph;
  at::Tensor logits;  // the graph's output, overwritten by each replay
};

DecodeGraphs::DecodeGraphs(model::CausalLMImpl& model, model::InferenceState& state) : model_(model), state_(state) {
  const auto device = state.lengths().device();
  if (!device.is_cuda()) fail("decode graphs: the state is on ", device.str(), "; CUDA graphs need a CUDA device");
  captured_ = std::make_unique<Captured>(device);
}

at::Tensor DecodeGraphs::step(const at::Tensor& input_ids) {
  model_.check_decode_step(input_ids, state_);
  auto& c = *captured_;
  const auto device_index = input_ids.device().index();
  if (!c.graph) {
    // The side stream must see prefill's writes, and the default stream the
    // side stream's: whole-device syncs, once per state.
    torch::cuda::synchronize(device_index);
    at::Tensor logits;
    {
      const c10::cuda::CUDAStreamGuard on_side_stream(c.stream);
      // Warm-up: a real step, so that cuBLAS handles, workspaces and lazily
      // loaded kernels exist before the capture.
      logits = model_.decode_step(input_ids, state_);
      c.input_ids = at::empty_like(input_ids);
      c.graph = std::make_unique<at::cuda::CUDAGraph>();
      c.graph->capture_begin();
      c.logits = model_.decode_step_on_device(c.input_ids, state_, state_.max_length());
      c.graph->capture_end();
    }
    torch::cuda::synchronize(device_index);
    return logits;
  }
  c.input_ids.copy_(input_ids);
  c.graph->replay();
  state_.note_decode_step();
  return c.logits;
}

#else

struct DecodeGraphs::Captured {};

DecodeGraphs::DecodeGraphs(model::CausalLMImpl& model, model::InferenceState& state) : model_(model), state_(state) {
  fail("decode graphs: this hybridize was built without CUDA");
}

at::Tensor DecodeGraphs::step(const at::Tensor&) { fail("decode graphs: this hybridize was built without CUDA"); }

#endif

DecodeGraphs::~DecodeGraphs() = default;

}  // namespace hybridize::infer
