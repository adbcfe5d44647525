// What prefix reuse saves in leave-one-out scoring: the same LOO batch scored
// with and without it, side by side in one process, on a model of a given
// shape with random weights (speed does not depend on the values). Prints layer
// forwards and wall-clock time of both modes and their ratios.
//
// usage: loo_bench CONFIG_JSON [--layers N] [--batch B] [--tokens T] [--device cuda] [--dtype bf16]
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "core/error.h"
#include "infer/bench.h"
#include "io/hf_config.h"
#include "model/causal_lm.h"
#include "model/weights.h"
#include "search/loo_scorer.h"

using namespace hybridize;

namespace {
void synchronize(const at::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}
}  // namespace

int main(int argc, char** argv) try {
  if (argc < 2) fail("usage: loo_bench CONFIG_JSON [--layers N] [--batch B] [--tokens T] [--device D] [--dtype T]");
  auto config = io::read_transformer_config(argv[1]);
  int64_t batch = 1, tokens = 4096;
  std::string device_name = torch::cuda::is_available() ? "cuda" : "cpu", dtype = "bf16";
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--layers") {
      config.num_layers = std::stoll(value);
      config.attention_windows.resize(std::size_t(config.num_layers), config.attention_windows.front());
    } else if (flag == "--batch")
      batch = std::stoll(value);
    else if (flag == "--tokens")
      tokens = std::stoll(value);
    else if (flag == "--device")
      device_name = value;
    else if (flag == "--dtype")
      dtype = value;
    else
      fail("unknown flag ", flag);
  }
  const at::Device device(device_name);
  const auto options = at::TensorOptions().dtype(model::parse_precision(dtype)).device(device);
  model::CausalLM teacher(config, model::Layout::all_attention(config.num_layers), options);
  infer::fill_random_weights_for_speed(*teacher);
  const auto ids =
      torch::randint(config.vocab_size, {batch, tokens}, at::TensorOptions().dtype(at::kLong).device(device));
  const auto targets = torch::randint(config.vocab_size, {batch, tokens}, ids.options());
  const auto mask = torch::ones({batch, tokens}, ids.options().dtype(at::kBool));
  std::vector<int64_t> layers(static_cast<std::size_t>(config.num_layers));
  for (int64_t i = 0; i < config.num_layers; ++i) layers[std::size_t(i)] = i;

  auto measure = [&](bool reuse) {
    search::LooOptions loo;
    loo.prefix_reuse = reuse;
    search::LayerForwardCount count;
    synchronize(device);
    const auto start = std::chrono::steady_clock::now();
    search::score_loo_batch(*teacher, ids, targets, mask, layers, loo, count);
    synchronize(device);
    return std::make_pair(count, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  };
  {  // warm-up: kernels, allocator
    search::LayerForwardCount count;
    search::score_loo_batch(*teacher, ids, targets, mask, {config.num_layers - 1}, {}, count);
  }
  const auto [reused, reused_s] = measure(true);
  const auto [naive, naive_s] = measure(false);
  std::printf("LOO prefix reuse: %lld layers, batch %lld x %lld tokens, %s %s\n", (long long)config.num_layers,
              (long long)batch, (long long)tokens, device_name.c_str(), dtype.c_str());
  std::printf("%-14s %14s %12s\n", "mode", "layer forwards", "seconds");
  std::printf("%-14s %14lld %12.3f\n", "prefix reuse", (long long)reused.spent, reused_s);
  std::printf("%-14s %14lld %12.3f\n", "naive", (long long)naive.spent, naive_s);
  std::printf("ratio          %13.1f%% %11.1f%%\n", 100.0 * double(reused.spent) / double(naive.spent),
              100.0 * reused_s / naive_s);
  return 0;
} catch (const std::exception& error) {
  std::fprintf(stderr, "loo_bench: %s\n", error.what());
  return 1;
}
