#include "sample_store.h"

#include "store/evaluations.h"

#include <cmath>

namespace hybridize::testing {

namespace {

constexpr int64_t kLayers = 6;
constexpr int64_t kSamples = 16;

// Per-sample values around `mean`, spread deterministically (no RNG: the test must be exact).
std::vector<double> samples_around(double mean, int64_t salt) {
  std::vector<double> values;
  for (int64_t i = 0; i < kSamples; ++i) values.push_back(mean * (1.0 + 0.2 * std::sin(double(i * 7 + salt))));
  return values;
}

store::MetricSummary summarise(const std::vector<double>& values) {
  double mean = 0;
  for (const double v : values) mean += v;
  mean /= double(values.size());
  double variance = 0;
  for (const double v : values) variance += (v - mean) * (v - mean);
  const double half = 1.96 * std::sqrt(variance / double(values.size() - 1) / double(values.size()));
  return {mean, mean - half, mean + half, int64_t(values.size())};
}

// One finished probe with per-sample values for each metric (and a loss curve when given).
void probe(store::ResultsStore& results, int64_t run_id, const store::ProbeKey& key,
           const std::map<std::string, double>& means, const std::string& device, std::vector<double> curve = {}) {
  results.ensure_probes(run_id, {key}, {{"samples", kSamples}});
  const std::string worker = store::this_worker();
  const auto claimed = results.claim_probes(run_id, key.kind, key.variant, {key.layer}, worker, 60, 1);
  store::ResultsStore::Finished finished;
  std::vector<store::ResultsStore::SampleBatch> batches;
  int64_t salt = key.layer;
  for (const auto& [metric, mean] : means) {
    const auto values = samples_around(mean, salt++);
    batches.push_back({claimed.at(0).id, metric, 0, values});
    finished.metrics[metric] = summarise(values);
  }
  results.record_samples(batches, {{claimed.at(0).id, 1.5}}, worker);
  finished.curve = std::move(curve);
  finished.samples = kSamples;
  finished.seconds = 0.25;
  finished.device = device;
  finished.peak_memory_bytes = 1 << 20;
  results.finish_probe(claimed.at(0).id, finished);
}

std::vector<double> decaying_curve(double start, double floor, int64_t steps) {
  std::vector<double> losses;
  for (int64_t step = 0; step < steps; ++step)
    losses.push_back(floor + (start - floor) * std::exp(-double(step) / 8.0));
  return losses;
}

nlohmann::json stage_metrics(int64_t tokens, double start, double floor, double kl, double nll_increase,
                             double accuracy) {
  nlohmann::json curve = nlohmann::json::array();
  for (int64_t step = 0; step <= 100; step += 5)
    curve.push_back({step, floor + (start - floor) * std::exp(-step / 30.0)});
  return {{"tokens", tokens},
          {"steps", 100},
          {"loss_curve", curve},
          {"eval", {{"kl", kl}, {"nll_increase", nll_increase}, {"accuracy", accuracy}}}};
}

std::string layout_with(const std::vector<int64_t>& mamba) {
  std::string layout(kLayers, 'A');
  for (const int64_t layer : mamba) layout[std::size_t(layer)] = 'M';
  return layout;
}

}  // namespace

std::string fill_sample_store(store::ResultsStore& results, const std::string& model_path) {
  const store::ModelRecord model{model_path, "9c1f0e7a2b4d6f80aa11bb22cc33dd44", "LlamaForCausalLM", kLayers, 1234567};
  const store::DatasetRecord data{"synthetic:validation:16", "5e5e0123456789abcdef0123456789ab", kSamples, 4096};
  const nlohmann::json config = {
      {"dtype", "fp32"}, {"mmr", {{"steps", 40}, {"lr", 1e-3}}}, {"loo", {{"bootstrap", 1000}}}};
  const auto run = results.open_run("demo", model, data, config, "0.1.0+test", 1234);

  probe(results, run.id, {"teacher", "", -1}, {{"nll", 1.85}}, "cpu");
  for (int64_t layer = 0; layer < kLayers; ++layer) {
    const double kl = kSampleLooKl[layer];
    probe(results, run.id, {"loo", "mixer", layer}, {{"kl", kl}, {"nll_increase", 0.8 * kl}}, "cpu");
    probe(results, run.id, {"loo", "block", layer}, {{"kl", 1.5 * kl + 0.1}, {"nll_increase", 1.2 * kl + 0.08}}, "cpu");
    const double loss = kSampleMmrLoss[layer];
    probe(results, run.id, {"mmr", "", layer},
          {{"distill_loss", loss}, {"kl", 0.9 * loss}, {"nll_increase", 0.6 * loss}, {"final_train_loss", 1.1 * loss}},
          "NVIDIA H100 80GB HBM3", decaying_curve(2.0 + 0.1 * double(layer), 1.1 * loss, 40));
    probe(results, run.id, {"proxy", "", layer},
          {{"block_influence", 0.05 + 0.02 * double((layer * 5) % kLayers)},
           {"attention_influence", 0.2 + 0.1 * kl},
           {"attention_norm_ratio", 0.4 + 0.05 * double(layer)}},
          "cpu");
  }

  store::PlanRecord paper;
  paper.run_id = run.id;
  paper.strategy = "paper";
  paper.layer_order = {3, 2, 4, 1, 5, 0};
  paper.config = {{"targets", {2, 3, 4}}, {"keep", {0}}};
  paper.stages = {{0, 0, std::nullopt, 2, {3, 2}, layout_with({3, 2}), 2000000, false, "pending", ""},
                  {0, 1, 0, 3, {4}, layout_with({3, 2, 4}), 1000000, true, "pending", ""},
                  {0, 2, 1, 4, {1}, layout_with({3, 2, 4, 1}), 1000000, true, "pending", ""}};
  for (int64_t at = 0; at < 3; ++at) {
    const int64_t mamba = 2 + at;
    paper.targets.push_back({mamba, at, paper.stages[std::size_t(at)].layout, "nll_increase",
                             store::MetricSummary{0.05 * double(mamba * mamba), 0.04 * double(mamba * mamba),
                                                  0.07 * double(mamba * mamba), 0},
                             900.0 + 250.0 * double(mamba), 1.0 + 0.3 * double(mamba),
                             (6 - mamba) * 4096 + mamba * 1024, 64 + 16 * mamba});
  }
  const int64_t paper_id = results.save_plan(paper);

  store::PlanRecord uniform;
  uniform.run_id = run.id;
  uniform.strategy = "uniform";
  uniform.layer_order = {1, 3, 5, 0, 2, 4};
  uniform.config = {{"targets", {3}}};
  uniform.stages = {{0, 0, std::nullopt, 3, {1, 3, 5}, layout_with({1, 3, 5}), 3000000, false, "pending", ""}};
  uniform.targets = {{3, 0, layout_with({1, 3, 5}), "nll_increase", store::MetricSummary{0.75, 0.6, 0.95, 0}, 1650.0,
                      1.9, 3 * 4096 + 3 * 1024, 112}};
  const int64_t uniform_id = results.save_plan(uniform);

  const auto plans = results.plans(run.id);
  const auto stage_id = [&](int64_t plan_id, int64_t position) {
    for (const auto& plan : plans)
      if (plan.id == plan_id)
        for (const auto& stage : plan.stages)
          if (stage.position == position) return stage.id;
    return int64_t(-1);
  };
  results.update_stage(stage_id(paper_id, 0), "done", "/checkpoints/paper/stage-0",
                       stage_metrics(2000000, 3.2, 1.3, 0.08, 0.21, 0.91));
  results.update_stage(stage_id(paper_id, 1), "done", "/checkpoints/paper/stage-1",
                       stage_metrics(1000000, 1.9, 1.45, 0.14, 0.43, 0.86));
  results.update_stage(stage_id(uniform_id, 0), "done", "/checkpoints/uniform/stage-0",
                       stage_metrics(3000000, 3.6, 1.7, 0.31, 0.82, 0.71));

  const auto bench = [&](const std::string& layout, double decode, double ratio, int64_t memory) {
    store::BenchmarkRecord row;
    row.model = model;
    row.layout = layout;
    row.device = "NVIDIA H100 80GB HBM3";
    row.dtype = "bf16";
    row.prompt_length = 4096;
    row.generation_length = 4096;
    row.batch = 64;
    row.prefill_tokens_per_s = 25.0 * decode;
    row.decode_tokens_per_s = decode;
    row.total_tokens_per_s = 1.9 * decode;
    row.memory_per_sequence = memory;
    row.ratio_to_teacher = ratio;
    results.save_benchmark(row);
  };
  bench(std::string(kLayers, 'A'), 1000.0, 1.0, 6 * 4096);
  bench(layout_with({3, 2}), 1550.0, 1.55, 4 * 4096 + 2 * 1024);
  bench(layout_with({3, 2, 4}), 1820.0, 1.82, 3 * 4096 + 3 * 1024);
  bench(layout_with({1, 3, 5}), 1800.0, 1.80, 3 * 4096 + 3 * 1024);

  // Benchmark evaluations of 10 problems: the teacher answers 9, the paper plan's stages 8 and 6, uniform's 5.
  store::EvaluationStore evaluations(results);
  const store::EvalTaskRecord task{"gsm8k-sample", "/tasks/gsm8k-sample.jsonl", "5e1b0f3c9a7d2e4f6a8b0c1d2e3f4a5b", 10};
  const nlohmann::json settings = {{"samples", 1},        {"temperature", 0.0},    {"top_p", 1.0},
                                   {"seed", 0},           {"max_new_tokens", 512}, {"prompt_format", "chatml"},
                                   {"dtype", "BFloat16"}, {"device", "cuda"}};
  const auto evaluate = [&](const store::ModelRecord& who, std::optional<int64_t> stage, int correct) {
    const auto evaluation = evaluations.open(who, task, settings, "test", stage);
    std::vector<store::EvalSampleRecord> samples;
    for (int64_t problem = 0; problem < 10; ++problem)
      samples.push_back({problem, 0,
                         problem < correct ? "correct"
                         : problem == 9    ? "no_answer"
                                           : "wrong",
                         problem == 9, problem == 9 ? 512 : 200, problem == 9 ? "" : "42", "… #### 42"});
    evaluations.record(evaluation.id, samples, 12.5);
    evaluations.finish(evaluation.id);
  };
  const auto student = [&](const char* hash) {
    return store::ModelRecord{"/checkpoints/x", hash, "AprielHybrid", kLayers, 1};
  };
  evaluate(model, std::nullopt, 9);
  evaluate(student("a0"), stage_id(paper_id, 0), 8);
  evaluate(student("a1"), stage_id(paper_id, 1), 6);
  evaluate(student("b0"), stage_id(uniform_id, 0), 5);
  results.set_run_status(run.id, "done");
  return run.name;
}

}  // namespace hybridize::testing
