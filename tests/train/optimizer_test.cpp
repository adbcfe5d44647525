// The learning-rate schedule, and the optimizer step: accumulation, clipping
// figures, frozen parameters, skipped non-finite steps, and its saved state.
#include <torch/torch.h>

#include <cmath>

#include "catch.h"
#include "temp_dir.h"
#include "train/optimizer.h"
#include "train/schedule.h"

using namespace hybridize;
using hybridize::testing::TempDir;

namespace {
struct TwoLayers : torch::nn::Module {
  TwoLayers() {
    torch::manual_seed(0);
    a = register_module("a", torch::nn::Linear(4, 3));
    b = register_module("b", torch::nn::Linear(3, 2));
  }
  at::Tensor forward(const at::Tensor& x) { return b(torch::tanh(a(x))); }
  torch::nn::Linear a{nullptr}, b{nullptr};
};

at::Tensor batch_loss(TwoLayers& model, const at::Tensor& x, const at::Tensor& y) {
  return (model.forward(x) - y).pow(2).mean();
}

std::vector<at::Tensor> snapshot(torch::nn::Module& model) {
  std::vector<at::Tensor> out;
  for (const auto& p : model.parameters()) out.push_back(p.detach().clone());
  return out;
}

train::OptimizerConfig config_with(int64_t accumulation = 1, double clip = 1.0) {
  train::OptimizerConfig config;
  config.schedule = {1e-2, 2, 10, 1e-3};
  config.accumulation_steps = accumulation;
  config.max_grad_norm = clip;
  return config;
}
}  // namespace

TEST_CASE("the schedule warms up linearly and decays along a cosine to its floor", "[train][optimizer]") {
  const train::LearningRateSchedule schedule{1.0, 4, 14, 0.1};
  CHECK(schedule.at(0) == Approx(0.25));
  CHECK(schedule.at(3) == Approx(1.0));
  CHECK(schedule.at(4) == Approx(1.0));
  // Decay steps 4..13: halfway along the cosine (progress 0.5) lies between steps 8 and 9.
  CHECK(schedule.at(13) == Approx(0.1));
  CHECK(schedule.at(20) == Approx(0.1));
  const double progress = 3.0 / 9.0;  // step 7
  CHECK(schedule.at(7) == Approx(0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * progress))));
  for (int64_t s = 4; s < 13; ++s) CHECK(schedule.at(s + 1) < schedule.at(s));
  REQUIRE_ERROR((train::LearningRateSchedule{1.0, 20, 10, 0.0}.validate()), "warm-up steps must lie in [0, 10]");
  REQUIRE_ERROR((train::LearningRateSchedule{1.0, 0, 10, 2.0}.validate()), "learning-rate floor must lie in [0, 1]");
}

TEST_CASE("two accumulated half batches take the same step as one whole batch", "[train][optimizer]") {
  torch::manual_seed(1);
  const auto x = torch::randn({8, 4}), y = torch::randn({8, 2});
  TwoLayers whole, halves;
  train::Optimizer whole_opt(whole, config_with(1)), halves_opt(halves, config_with(2));
  for (int step = 0; step < 3; ++step) {
    whole_opt.accumulate(batch_loss(whole, x, y));
    const auto whole_report = whole_opt.step();
    halves_opt.accumulate(batch_loss(halves, x.narrow(0, 0, 4), y.narrow(0, 0, 4)));
    halves_opt.accumulate(batch_loss(halves, x.narrow(0, 4, 4), y.narrow(0, 4, 4)));
    const auto halves_report = halves_opt.step();
    CHECK(whole_report.applied);
    CHECK(whole_report.grad_norm == Approx(halves_report.grad_norm).epsilon(1e-5));
    CHECK(whole_report.learning_rate == Approx(train::LearningRateSchedule{1e-2, 2, 10, 1e-3}.at(step)));
  }
  const auto a = snapshot(whole), b = snapshot(halves);
  for (size_t i = 0; i < a.size(); ++i) CHECK(torch::allclose(a[i], b[i], 1e-5, 1e-7));
  REQUIRE_ERROR(halves_opt.step(), "step() after 0 of 2 micro-batches");
}

TEST_CASE("a step is AdamW at the scheduled rate on gradients clipped to the global norm", "[train][optimizer]") {
  torch::manual_seed(2);
  const auto x = torch::randn({8, 4}) * 10, y = torch::randn({8, 2}) * 10;
  TwoLayers model, reference;
  auto config = config_with(1, 0.01);
  config.weight_decay = 0.1;
  train::Optimizer optimizer(model, config);
  // The reference by hand: decay on matrices only, clip, set the rate, step.
  const auto options = torch::optim::AdamWOptions(1).betas({config.beta1, config.beta2}).eps(config.eps);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(
      std::vector<at::Tensor>{reference.a->weight, reference.b->weight},
      std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(options).weight_decay(0.1)));
  groups.emplace_back(
      std::vector<at::Tensor>{reference.a->bias, reference.b->bias},
      std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(options).weight_decay(0)));
  torch::optim::AdamW adamw(std::move(groups), options);
  for (int step = 0; step < 3; ++step) {
    const auto xs = x * (step + 1), ys = y.roll(step, 0);
    optimizer.accumulate(batch_loss(model, xs, ys));
    const auto report = optimizer.step();

    adamw.zero_grad();
    batch_loss(reference, xs, ys).backward();
    double squares = 0;
    for (const auto& p : reference.parameters()) squares += p.grad().pow(2).sum().item<double>();
    const double norm = std::sqrt(squares);
    for (auto& p : reference.parameters()) p.grad().mul_(std::min(1.0, 0.01 / (norm + 1e-6)));
    for (auto& group : adamw.param_groups())
      static_cast<torch::optim::AdamWOptions&>(group.options()).lr(config.schedule.at(step));
    adamw.step();

    CHECK(report.applied);
    CHECK(report.grad_norm == Approx(norm).epsilon(1e-5));
    CHECK(report.grad_norm > 0.01);  // so clipping acted
    const auto a = snapshot(model), b = snapshot(reference);
    for (size_t i = 0; i < a.size(); ++i) CHECK(torch::allclose(a[i], b[i], 1e-5, 1e-7));
  }
  // After step() the gradients are cleared for the next accumulation.
  for (const auto& p : model.parameters()) CHECK((!p.grad().defined() || p.grad().abs().sum().item<double>() == 0));
}

TEST_CASE("only the chosen parameters train; the rest are frozen", "[train][optimizer]") {
  torch::manual_seed(3);
  const auto x = torch::randn({8, 4}), y = torch::randn({8, 2});
  TwoLayers model;
  const auto before = snapshot(model);
  train::Optimizer optimizer(model, config_with(), train::parameters_under({"b."}));
  CHECK(optimizer.trained_names() == std::vector<std::string>{"b.weight", "b.bias"});
  optimizer.accumulate(batch_loss(model, x, y));
  CHECK(optimizer.step().applied);
  const auto after = snapshot(model);  // a.weight, a.bias, b.weight, b.bias
  CHECK(torch::equal(before[0], after[0]));
  CHECK(torch::equal(before[1], after[1]));
  CHECK_FALSE(torch::equal(before[2], after[2]));
  CHECK_FALSE(torch::equal(before[3], after[3]));
  CHECK_FALSE(model.a->weight.requires_grad());
  REQUIRE_ERROR(train::Optimizer(model, config_with(), train::parameters_under({"c."})), "no parameter selected");
  TwoLayers half;
  half.a->to(at::kHalf);
  REQUIRE_ERROR(train::Optimizer(half, config_with()), "parameter a.weight is Half; trained parameters must be fp32");
}

TEST_CASE("a non-finite step is skipped and counted; too many in a row stop training", "[train][optimizer]") {
  torch::manual_seed(4);
  const auto x = torch::randn({8, 4}), y = torch::randn({8, 2});
  TwoLayers model;
  auto config = config_with();
  config.max_consecutive_skips = 2;
  train::Optimizer optimizer(model, config);
  const auto before = snapshot(model);
  // A NaN loss, and a finite loss whose gradient is infinite.
  optimizer.accumulate(batch_loss(model, x, y) * std::nan(""));
  CHECK_FALSE(optimizer.step().applied);
  // sqrt at 0: the value is 0, its gradient infinite.
  optimizer.accumulate(batch_loss(model, x, y) + at::sqrt((model.a->weight - model.a->weight.detach()).sum()));
  const auto second = optimizer.step();
  CHECK_FALSE(second.applied);
  CHECK(optimizer.skipped_steps() == 2);
  CHECK(optimizer.steps_taken() == 2);
  const auto unchanged = snapshot(model);
  for (size_t i = 0; i < before.size(); ++i) CHECK(torch::equal(before[i], unchanged[i]));
  // A good step resets the run of skips; then three bad ones in a row are fatal.
  optimizer.accumulate(batch_loss(model, x, y));
  CHECK(optimizer.step().applied);
  for (int i = 0; i < 2; ++i) {
    optimizer.accumulate(batch_loss(model, x, y) * std::nan(""));
    CHECK_FALSE(optimizer.step().applied);
  }
  optimizer.accumulate(batch_loss(model, x, y) * std::nan(""));
  REQUIRE_ERROR(
      optimizer.step(),
      "training diverged: 3 consecutive steps up to step 5 had a non-finite loss or gradient (5 skipped in all)");
}

TEST_CASE("a saved optimizer state continues bit-identically after loading", "[train][optimizer]") {
  torch::manual_seed(5);
  const auto x = torch::randn({8, 4}), y = torch::randn({8, 2});
  TempDir dir;
  TwoLayers straight, resumed;
  train::Optimizer straight_opt(straight, config_with());
  {
    train::Optimizer first(resumed, config_with());
    for (int i = 0; i < 3; ++i) {
      straight_opt.accumulate(batch_loss(straight, x, y));
      straight_opt.step();
      first.accumulate(batch_loss(resumed, x, y));
      first.step();
    }
    first.save(dir / "optimizer.pt");
  }
  train::Optimizer second(resumed, config_with());
  second.load(dir / "optimizer.pt");
  CHECK(second.steps_taken() == 3);
  for (int i = 0; i < 3; ++i) {
    straight_opt.accumulate(batch_loss(straight, x, y));
    straight_opt.step();
    second.accumulate(batch_loss(resumed, x, y));
    second.step();
  }
  const auto a = snapshot(straight), b = snapshot(resumed);
  for (size_t i = 0; i < a.size(); ++i) CHECK(torch::equal(a[i], b[i]));
  hybridize::testing::write_text(dir / "broken.pt", "not an archive");
  REQUIRE_ERROR(second.load(dir / "broken.pt"), "broken.pt: cannot read optimizer state");
}

TEST_CASE("on CUDA the fused clipping and AdamW take the CPU path's steps, and their state resumes on the CPU",
          "[cuda][train][optimizer]") {
  REQUIRE(torch::cuda::is_available());
  torch::manual_seed(6);
  const auto x = torch::randn({8, 4}) * 10, y = torch::randn({8, 2}) * 10;
  TempDir dir;
  TwoLayers on_cpu, on_gpu;
  on_gpu.to(at::kCUDA);
  auto config = config_with(1, 0.01);  // clipping acts at every step
  config.weight_decay = 0.1;
  train::Optimizer cpu_opt(on_cpu, config), gpu_opt(on_gpu, config);
  const auto step_both = [&](int step) {
    const auto xs = x * (step + 1), ys = y.roll(step, 0);
    cpu_opt.accumulate(batch_loss(on_cpu, xs, ys));
    gpu_opt.accumulate(batch_loss(on_gpu, xs.cuda(), ys.cuda()));
    const auto cpu_report = cpu_opt.step(), gpu_report = gpu_opt.step();
    CHECK(gpu_report.applied);
    CHECK(gpu_report.grad_norm == Approx(cpu_report.grad_norm).epsilon(1e-5));
    CHECK(gpu_report.grad_norm > 0.01);
    const auto a = snapshot(on_cpu), b = snapshot(on_gpu);
    for (size_t i = 0; i < a.size(); ++i) CHECK(torch::allclose(a[i], b[i].cpu(), 1e-5, 1e-6));
  };
  for (int step = 0; step < 3; ++step) step_both(step);
  for (const auto& p : on_gpu.parameters()) CHECK(!p.grad().defined());
  // The fused path keeps the moments where LibTorch's AdamW keeps them: its
  // state, saved on the GPU, continues the CPU model's steps on the CPU.
  gpu_opt.save(dir / "optimizer.pt");
  TwoLayers moved;
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < moved.parameters().size(); ++i) moved.parameters()[i].copy_(on_gpu.parameters()[i].cpu());
  train::Optimizer moved_opt(moved, config);
  moved_opt.load(dir / "optimizer.pt");
  CHECK(moved_opt.steps_taken() == 3);
  {
    const at::AutoGradMode grad_mode(true);
    const auto xs = x * 4, ys = y.roll(3, 0);
    moved_opt.accumulate(batch_loss(moved, xs, ys));
    moved_opt.step();
    cpu_opt.accumulate(batch_loss(on_cpu, xs, ys));
    cpu_opt.step();
  }
  const auto a = snapshot(on_cpu), b = snapshot(moved);
  for (size_t i = 0; i < a.size(); ++i) CHECK(torch::allclose(a[i], b[i], 1e-5, 1e-6));
}
