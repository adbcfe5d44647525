// Training throughput and model FLOP utilisation of a distillation step on a
// ~1B-parameter hybrid beside the all-attention transformer of the same shape,
// both measured in one run with random weights (speed does not depend on them).
//
// Shape: Llama-3.2-1B's (hidden 2048, 16 layers, 32 heads of 64, 8 KV heads,
// MLP 8192, vocabulary 128256, tied embeddings): a real 1B teacher with GQA
// like Apriel's. The hybrid replaces every second layer's attention by a
// Mamba mixer of MIL widths (d_inner 2048, d_xb 512, d_state 16).
//
// One step, as train::distill_stage takes it: the frozen bf16 teacher's
// forward pass (timed apart), then the student's forward pass under bf16
// autocast with fp32 master weights, the chunked reverse-KL loss against the
// teacher, backward, clipping and AdamW over every parameter.
//
// FLOPs per token: 6 x the student's matmul parameters (projections and the
// LM head), plus causal attention's 6 x T x heads x head_dim per attention
// layer (the masked half not counted: flash attention skips it), plus the
// Mamba scan's 3 x 7 x d_inner x d_state and conv's 3 x 2 x d_conv x channels.
// The teacher's layers count 2 x their matmul parameters plus their attention;
// its logits (2 x vocab x hidden), made inside the loss, count in the student's
// step, where their time falls. Recomputed work (the loss's logits in backward,
// checkpointed layers) is not counted. MFU divides by the card's dense bf16 peak.
//
// usage: train_bench [--layers N] [--batch B] [--seq-len T] [--steps S] [--checkpoint-activations] [--profile] [--cpu]
// (--profile: after each layout's timed steps, one more step under the Kineto
// profiler, and its GPU time by kernel and by launching operator, largest
// first; --cpu: a smoke run of
// the same code, e.g. --layers 2 --seq-len 64; no MFU)
#include <cuda_runtime_api.h>
#include <torch/torch.h>

#include <torch/csrc/autograd/profiler_kineto.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/error.h"
#include "infer/bench.h"
#include "model/device.h"
#include "model/mil.h"
#include "train/losses.h"
#include "train/mixed_precision.h"
#include "train/optimizer.h"

using namespace hybridize;

namespace {

struct BenchOptions {
  int64_t layers = 16;
  int64_t batch = 2;
  int64_t seq_len = 4096;
  int64_t steps = 2;  // timed, after one warm-up step
  bool checkpoint_activations = false;
  bool profile = false;
  bool cpu = false;
};

BenchOptions parse_options(int argc, char** argv) {
  BenchOptions options;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--checkpoint-activations" || flag == "--cpu" || flag == "--profile") {
      (flag == "--cpu" ? options.cpu : flag == "--profile" ? options.profile : options.checkpoint_activations) = true;
      continue;
    }
    if (i + 1 >= argc) fail("train_bench: ", flag, " needs a value");
    const int64_t value = std::stoll(argv[++i]);
    if (value <= 0) fail("train_bench: ", flag, " must be positive, got ", value);
    if (flag == "--layers")
      options.layers = value;
    else if (flag == "--batch")
      options.batch = value;
    else if (flag == "--seq-len")
      options.seq_len = value;
    else if (flag == "--steps")
      options.steps = value;
    else
      fail("train_bench: unknown flag ", flag);
  }
  return options;
}

io::TransformerConfig llama_1b_shape(const BenchOptions& options) {
  const nlohmann::json json = {{"architectures", {"LlamaForCausalLM"}},
                               {"model_type", "llama"},
                               {"vocab_size", 128256},
                               {"hidden_size", 2048},
                               {"intermediate_size", 8192},
                               {"num_hidden_layers", options.layers},
                               {"num_attention_heads", 32},
                               {"num_key_value_heads", 8},
                               {"head_dim", 64},
                               {"max_position_embeddings", options.seq_len},
                               {"rms_norm_eps", 1e-5},
                               {"rope_theta", 500000.0},
                               {"tie_word_embeddings", true},
                               {"hidden_act", "silu"},
                               {"torch_dtype", "bfloat16"}};
  return io::parse_transformer_config(json, "train_bench shape");
}

// Dense bf16 tensor-core peak of the card, from its name; 0 when unknown.
double bf16_peak_flops(const std::string& device_name) {
  for (const char* card : {"H100", "H200"})  // SXM: 989 TFLOP/s dense
    if (device_name.find(card) != std::string::npos) return 989e12;
  return 0;
}

int64_t matmul_parameters(model::CausalLMImpl& model) {
  int64_t count = model.lm_head ? 0 : model.model->embed_tokens->weight.numel();  // tied head
  for (const auto& module : model.modules())
    if (const auto* linear = dynamic_cast<const model::LinearImpl*>(module.get())) count += linear->weight.numel();
  return count;
}

struct FlopsPerToken {
  double student_step = 0;     // the student's forward and backward, and the teacher's logits in the loss
  double teacher_forward = 0;  // the teacher's layers
};

// Causal attention's forward FLOPs per token of the model's attention layers.
double attention_flops(model::CausalLMImpl& model, int64_t seq_len) {
  const auto& config = model.config;
  return 2.0 * double(seq_len) * double(config.num_heads * config.head_dim) *
         double(model.layout.count(model::MixerKind::Attention));
}

FlopsPerToken flops_per_token(model::CausalLMImpl& student, model::CausalLMImpl& teacher, int64_t seq_len) {
  double mamba = 0;
  if (const auto& ssm = student.config.ssm)
    mamba = double(student.layout.count(model::MixerKind::Mamba)) *
            (7.0 * double(ssm->d_inner * ssm->d_state) + 2.0 * double(ssm->d_conv * ssm->conv_channels()));
  const double head = 2.0 * double(teacher.config.vocab_size * teacher.config.hidden_size);
  return {3.0 * (2.0 * double(matmul_parameters(student)) + attention_flops(student, seq_len) + mamba) + head,
          2.0 * double(matmul_parameters(teacher)) - head + attention_flops(teacher, seq_len)};
}

struct Measurement {
  std::string layout;
  int64_t parameters = 0;
  double teacher_seconds = 0, student_seconds = 0;  // per step, mean of the timed steps
  FlopsPerToken flops;
  double peak_gib = 0;
};

void synchronize(const at::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Prints the GPU time of the kernels `body` launched, by kernel name and by
// the ATen operator that launched them, largest first (the top `rows` of
// each), with each one's share of the step's GPU time.
void print_kernel_profile(const std::string& title, const std::function<void()>& body, std::size_t rows = 20) {
  namespace profiler = torch::autograd::profiler;
  using torch::profiler::impl::ActivityType;
  const torch::profiler::impl::ProfilerConfig config(torch::profiler::impl::ProfilerState::KINETO);
  const std::set<ActivityType> activities{ActivityType::CPU, ActivityType::CUDA};
  profiler::prepareProfiler(config, activities);
  profiler::enableProfiler(config, activities);
  body();
  const auto result = profiler::disableProfiler();
  struct Total {
    double ms = 0;
    int64_t calls = 0;
  };
  // A kernel's linked correlation id names the CPU-side operator that launched
  // it; that operator is named with the nearest enclosing event that is not an
  // ATen operator (an autograd node, say), found by a sweep over each thread.
  std::vector<const torch::autograd::profiler::KinetoEvent*> cpu;
  for (const auto& event : result->events())
    if (event.deviceType() == c10::DeviceType::CPU) cpu.push_back(&event);
  std::sort(cpu.begin(), cpu.end(), [](const auto* a, const auto* b) {
    return std::pair{a->startThreadId(), a->startNs()} < std::pair{b->startThreadId(), b->startNs()};
  });
  std::map<uint64_t, std::string> launcher;
  std::vector<const torch::autograd::profiler::KinetoEvent*> open;
  for (const auto* event : cpu) {
    while (!open.empty() &&
           (open.back()->startThreadId() != event->startThreadId() || open.back()->endNs() <= event->startNs()))
      open.pop_back();
    if (event->correlationId() != 0) {
      std::string context;
      for (auto it = open.rbegin(); it != open.rend() && context.empty(); ++it)
        if ((*it)->name().rfind("aten::", 0) != 0) context = (*it)->name();
      launcher[event->correlationId()] = event->name() + (context.empty() ? "" : " < " + context);
    }
    open.push_back(event);
  }
  std::map<std::string, Total> by_kernel, by_operator;
  double all_ms = 0;
  for (const auto& event : result->events()) {
    if (event.deviceType() != c10::DeviceType::CUDA) continue;
    const double ms = double(event.durationNs()) / 1e6;
    const auto found = launcher.find(event.linkedCorrelationId());
    for (auto* total : {&by_kernel[event.name()], &by_operator[found == launcher.end() ? "?" : found->second]}) {
      total->ms += ms;
      total->calls += 1;
    }
    all_ms += ms;
  }
  const auto print_top = [&](const char* what, const std::map<std::string, Total>& totals) {
    std::vector<std::pair<std::string, Total>> sorted(totals.begin(), totals.end());
    std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second.ms > b.second.ms; });
    std::printf("profile of one step, %s, by %s: %.1f ms of GPU time\n", title.c_str(), what, all_ms);
    for (std::size_t i = 0; i < std::min(rows, sorted.size()); ++i)
      std::printf("  %8.2f ms %5.1f%% %5lld x  %.110s\n", sorted[i].second.ms, 100 * sorted[i].second.ms / all_ms,
                  (long long)sorted[i].second.calls, sorted[i].first.c_str());
  };
  print_top("kernel", by_kernel);
  print_top("launching operator", by_operator);
}

Measurement measure(model::CausalLMImpl& teacher, const model::Layout& layout, const BenchOptions& options,
                    const at::Tensor& ids) {
  const at::Device device = ids.device();
  auto student = model::derive_hybrid(teacher, layout, model::mil_ssm_config(teacher.config, 16), 1);
  student->to(at::kFloat);  // fp32 master weights
  student->train();
  student->model->checkpoint_layers = options.checkpoint_activations;
  train::OptimizerConfig config;
  config.schedule = {1e-4, 0, options.steps + 2, 1e-5};  // warm-up, timed steps, profiled step
  train::Optimizer optimizer(*student, config);
  const auto autocast = train::resolve_autocast(train::Autocast::On, teacher.model->embed_tokens->weight);
  const auto teacher_head = train::head_of(teacher), student_head = train::head_of(*student);
  const auto mask = torch::ones({ids.numel()}, ids.options().dtype(at::kBool));

  Measurement out;
  out.layout = layout.to_string();
  for (const auto& parameter : student->parameters()) out.parameters += parameter.numel();
  out.flops = flops_per_token(*student, teacher, options.seq_len);
  // One distillation step; returns the teacher's and the student's seconds.
  const auto step = [&] {
    synchronize(device);
    const auto start = std::chrono::steady_clock::now();
    at::Tensor teacher_hidden;
    {
      torch::NoGradGuard no_grad;
      teacher_hidden = teacher.model->forward(ids).flatten(0, 1);
    }
    synchronize(device);
    const double teacher_seconds = seconds_since(start);
    const auto student_start = std::chrono::steady_clock::now();
    at::Tensor student_hidden;
    {
      const model::AutocastRegion region(device.type(), autocast);
      student_hidden = train::loss_hidden(student->model->forward(ids).flatten(0, 1), autocast);
    }
    optimizer.accumulate(train::distillation_loss(teacher_head, teacher_hidden, student_head, student_hidden, mask,
                                                  train::Divergence::ReverseKL));
    if (!optimizer.step().applied) fail("train_bench: a step of ", out.layout, " was skipped (non-finite)");
    synchronize(device);
    return std::pair{teacher_seconds, seconds_since(student_start)};
  };
  model::reset_peak_memory(device);
  step();  // warm-up: allocator, cuBLAS/cuDNN plans
  for (int64_t i = 0; i < options.steps; ++i) {
    const auto [teacher_seconds, student_seconds] = step();
    out.teacher_seconds += teacher_seconds / double(options.steps);
    out.student_seconds += student_seconds / double(options.steps);
  }
  out.peak_gib = double(model::peak_memory_bytes(device).value_or(0)) / double(1ll << 30);
  if (options.profile) print_kernel_profile(out.layout, [&] { step(); });
  return out;
}

void print_row(const Measurement& m, double tokens, double peak) {
  const double distill_seconds = m.teacher_seconds + m.student_seconds;
  const auto mfu = [&](double flops, double seconds) {
    return peak > 0 ? 100.0 * flops * tokens / seconds / peak : 0.0;
  };
  std::printf("%-18s %7.3fB %9.3f %9.3f %11.0f %8.1f%% %11.0f %8.1f%% %8.1f\n", m.layout.c_str(),
              double(m.parameters) / 1e9, m.teacher_seconds, m.student_seconds, tokens / m.student_seconds,
              mfu(m.flops.student_step, m.student_seconds), tokens / distill_seconds,
              mfu(m.flops.student_step + m.flops.teacher_forward, distill_seconds), m.peak_gib);
}

}  // namespace

int main(int argc, char** argv) try {
  const auto options = parse_options(argc, argv);
  std::string device_name = "cpu";
  if (!options.cpu) {
    if (!torch::cuda::is_available()) fail("train_bench: no CUDA device (--cpu for a smoke run)");
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) fail("train_bench: cannot read the device's properties");
    device_name = prop.name;
  }
  const double peak = bf16_peak_flops(device_name);
  const auto config = llama_1b_shape(options);
  const at::Device device(options.cpu ? at::kCPU : at::kCUDA);
  model::CausalLM teacher(config, model::Layout::all_attention(config.num_layers),
                          at::TensorOptions().dtype(at::kBFloat16).device(device));
  infer::fill_random_weights_for_speed(*teacher);
  for (auto& parameter : teacher->parameters()) parameter.set_requires_grad(false);
  torch::manual_seed(0);
  const auto ids = torch::randint(config.vocab_size, {options.batch, options.seq_len},
                                  at::TensorOptions().dtype(at::kLong).device(device));
  std::string hybrid(std::size_t(config.num_layers), 'A');
  for (std::size_t i = 1; i < hybrid.size(); i += 2) hybrid[i] = 'M';

  std::printf(
      "train_bench: %s, dense bf16 peak %s; Llama-3.2-1B shape with %lld layers; %lld x %lld tokens a step; "
      "student bf16 autocast, fp32 weights and AdamW; teacher bf16; activation checkpointing %s; "
      "1 warm-up + %lld timed steps\n",
      device_name.c_str(), peak > 0 ? "989 TFLOP/s" : "unknown (no MFU)", (long long)config.num_layers,
      (long long)options.batch, (long long)options.seq_len, options.checkpoint_activations ? "on" : "off",
      (long long)options.steps);
  const auto transformer = measure(*teacher, model::Layout::all_attention(config.num_layers), options, ids);
  const auto hybrid_result = measure(*teacher, model::Layout::parse(hybrid, config.num_layers, "hybrid"), options, ids);
  std::printf("%-18s %8s %9s %9s %11s %9s %11s %9s %8s\n", "layout", "params", "teacher s", "student s", "step tok/s",
              "step MFU", "dist. tok/s", "dist. MFU", "peak GiB");
  const double tokens = double(options.batch * options.seq_len);
  print_row(transformer, tokens, peak);
  print_row(hybrid_result, tokens, peak);
  std::printf("hybrid / transformer: student step time %.2fx, distillation step time %.2fx\n",
              hybrid_result.student_seconds / transformer.student_seconds,
              (hybrid_result.teacher_seconds + hybrid_result.student_seconds) /
                  (transformer.teacher_seconds + transformer.student_seconds));
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "%s\n", e.what());
  return 1;
}
