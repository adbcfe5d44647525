#include "infer/decode_graphs.h"

#include <map>
#include <set>

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

  struct Graph {
    std::unique_ptr<at::cuda::CUDAGraph> graph;
    at::Tensor logits;  // the graph's output, overwritten by each replay
  };
  at::cuda::CUDAStream stream;  // captures cannot run on the default stream
  at::Tensor input_ids;         // static: each step copies its tokens here, where the graphs read them
  std::map<int64_t, Graph> by_key_extent;
  bool ready = false;
};

DecodeGraphs::DecodeGraphs(model::CausalLMImpl& model, model::InferenceState& state, int64_t key_bucket)
    : model_(model), state_(state) {
  const auto device = state.lengths().device();
  if (!device.is_cuda()) fail("decode graphs: the state is on ", device.str(), "; CUDA graphs need a CUDA device");
  if (!state.is_prefilled()) fail("decode graphs: every row of the state must be prefilled first");
  state.set_key_bucket(key_bucket);
  captured_ = std::make_unique<Captured>(device);
}

at::Tensor DecodeGraphs::step(const at::Tensor& input_ids) {
  model_.check_decode_step(input_ids, state_);
  auto& c = *captured_;
  const auto device_index = input_ids.device().index();
  if (!c.ready) {
    // The side stream must see prefill's writes, and the default stream the
    // side stream's: whole-device syncs, once per generation.
    torch::cuda::synchronize(device_index);
    at::Tensor logits;
    {
      const c10::cuda::CUDAStreamGuard on_side_stream(c.stream);
      // Warm-up: a real step, so that cuBLAS handles, workspaces and lazily
      // loaded kernels exist before any capture.
      logits = model_.decode_step(input_ids, state_);
      c.input_ids = at::empty_like(input_ids);
      // Every key extent a later step can reach; one graph each, sharing one
      // memory pool (they replay one at a time, in the order of the steps).
      std::set<int64_t> extents;
      for (int64_t filled = state_.key_extent(); filled < state_.max_length(); ++filled)
        extents.insert(state_.bucketed_key_extent(filled + 1));
      const auto pool = at::cuda::graph_pool_handle();
      for (const int64_t extent : extents) {
        auto& captured = c.by_key_extent[extent];
        captured.graph = std::make_unique<at::cuda::CUDAGraph>();
        captured.graph->capture_begin(pool);
        captured.logits = model_.decode_step_on_device(c.input_ids, state_, extent);
        captured.graph->capture_end();
      }
    }
    torch::cuda::synchronize(device_index);
    c.ready = true;
    return logits;
  }
  auto& captured = c.by_key_extent.at(state_.decode_key_extent());
  c.input_ids.copy_(input_ids);
  captured.graph->replay();
  state_.note_decode_step();
  return captured.logits;
}

int64_t DecodeGraphs::graphs_captured() const { return static_cast<int64_t>(captured_->by_key_extent.size()); }

#else

struct DecodeGraphs::Captured {};

DecodeGraphs::DecodeGraphs(model::CausalLMImpl& model, model::InferenceState& state, int64_t)
    : model_(model), state_(state) {
  fail("decode graphs: this hybridize was built without CUDA");
}

at::Tensor DecodeGraphs::step(const at::Tensor&) { fail("decode graphs: this hybridize was built without CUDA"); }

int64_t DecodeGraphs::graphs_captured() const { return 0; }

#endif

DecodeGraphs::~DecodeGraphs() = default;

}  // namespace hybridize::infer
