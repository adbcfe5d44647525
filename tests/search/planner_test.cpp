// The planner: orders, stages, constraints, quality from scores, the
// throughput model, and the stage graph.
#include <torch/torch.h>

#include <set>

#include "catch.h"
#include "io/hf_config.h"
#include "model/mil.h"
#include "search/calibration.h"
#include "search/cost_model.h"
#include "search/planner.h"
#include "search/stage_dag.h"
#include "temp_dir.h"

using namespace hybridize;

namespace {
io::TransformerConfig apriel_shape(int64_t layers) {
  nlohmann::json j = {{"model_type", "mistral"},     {"vocab_size", 131072},
                      {"hidden_size", 5120},         {"intermediate_size", 14336},
                      {"num_hidden_layers", layers}, {"num_attention_heads", 32},
                      {"num_key_value_heads", 8},    {"head_dim", 128},
                      {"rope_theta", 1e6},           {"max_position_embeddings", 65536}};
  return io::parse_transformer_config(j, "apriel-shape");
}

// Layer i's LOO samples: {i, i + 1} scaled, so importance grows with the layer index except layer 0.
search::ScoreTables tables(int64_t layers) {
  search::ScoreTables scores;
  for (int64_t i = 0; i < layers; ++i) {
    const double base = i == 0 ? 100.0 : double(i);
    scores.loo[i] = {base, base + 1};
    scores.mmr[i] = {double(layers - i), double(layers - i)};  // reversed importance
    scores.proxy[i] = {base};
  }
  return scores;
}

std::set<int64_t> mamba_layers(const std::string& layout) {
  std::set<int64_t> layers;
  for (std::size_t i = 0; i < layout.size(); ++i)
    if (layout[i] == 'M') layers.insert(int64_t(i));
  return layers;
}
}  // namespace

TEST_CASE("a LOO plan replaces the least important layers first, in nested stages", "[planner]") {
  const auto config = apriel_shape(50);
  search::PlanRequest request;
  request.strategy = search::Strategy::Loo;
  request.targets = {40, 25, 30};
  request.keep = {49};
  const auto plan = search::make_plan(request, config, tables(50), {}, {});
  REQUIRE(plan.layer_order.size() == 49);
  CHECK(plan.layer_order.front() == 1);
  CHECK(plan.layer_order.back() == 0);  // layer 0 is the most important here
  std::vector<int64_t> counts;
  for (const auto& stage : plan.stages) counts.push_back(stage.mamba_layers);
  CHECK(counts == std::vector<int64_t>{25, 28, 30, 33, 37, 40});  // 8% of 50 = 4 layers a stage at most
  std::set<int64_t> previous;
  for (const auto& stage : plan.stages) {
    const auto now = mamba_layers(stage.layout);
    CHECK(int64_t(now.size()) == stage.mamba_layers);
    for (const int64_t layer : previous) CHECK(now.count(layer));  // each stage keeps the previous stage's Mamba layers
    for (const int64_t layer : stage.new_layers) CHECK(!previous.count(layer));
    CHECK(now.size() == previous.size() + stage.new_layers.size());
    CHECK(!now.count(49));
    previous = now;
  }
  REQUIRE(plan.targets.size() == 3);
  CHECK(plan.targets[0].mamba_layers == 25);
  CHECK(plan.stages[std::size_t(plan.targets[1].stage_position)].mamba_layers == 30);
}

TEST_CASE("MMR and proxy plans follow their own score's order", "[planner]") {
  const auto config = apriel_shape(10);
  search::PlanRequest request;
  request.targets = {3};
  request.strategy = search::Strategy::Mmr;
  const auto mmr = search::make_plan(request, config, tables(10), {}, {});
  CHECK(std::vector<int64_t>(mmr.layer_order.begin(), mmr.layer_order.begin() + 3) == std::vector<int64_t>{9, 8, 7});
  CHECK(mmr.targets[0].quality_metric == "sum of MMR kl");
  request.strategy = search::Strategy::Proxy;
  const auto proxy = search::make_plan(request, config, tables(10), {}, {});
  CHECK(std::vector<int64_t>(proxy.layer_order.begin(), proxy.layer_order.begin() + 3) ==
        std::vector<int64_t>{1, 2, 3});
  CHECK(proxy.targets[0].layout == "AMMMAAAAAA");
}

TEST_CASE("predicted quality adds the layers' per-sample scores", "[planner]") {
  const auto config = apriel_shape(6);
  search::ScoreTables scores;
  for (int64_t i = 0; i < 6; ++i) scores.loo[i] = {double(i), 2.0 * double(i), 0.0};
  search::PlanRequest request;
  request.strategy = search::Strategy::Loo;
  request.targets = {2};
  request.min_attention = 1;
  const auto plan = search::make_plan(request, config, scores, {}, {});
  // Layers 0 and 1: per-sample sums {1, 2, 0}, mean 1.
  REQUIRE(plan.targets[0].predicted_quality);
  CHECK(plan.targets[0].predicted_quality->value == Approx(1.0));
  CHECK(*plan.targets[0].predicted_quality->ci_low <= 1.0);
  CHECK(plan.targets[0].quality_metric == "sum of LOO kl");
}

TEST_CASE("the paper strategy takes the first stage by LOO and the rest by MMR, re-ranking later stages", "[planner]") {
  const auto config = apriel_shape(10);
  search::PlanRequest request;
  request.strategy = search::Strategy::Paper;
  request.targets = {3, 6};
  request.max_per_stage = 3;
  const auto plan = search::make_plan(request, config, tables(10), {}, {});
  CHECK(std::vector<int64_t>(plan.layer_order.begin(), plan.layer_order.begin() + 3) == std::vector<int64_t>{1, 2, 3});
  CHECK(std::vector<int64_t>(plan.layer_order.begin() + 3, plan.layer_order.begin() + 6) ==
        std::vector<int64_t>{9, 8, 7});
  CHECK(!plan.stages[0].rescore);
  CHECK(plan.stages[1].rescore);
}

TEST_CASE("uniform and random orders are permutations; uniform prefixes are spread out", "[planner]") {
  const auto order = search::spread_order(8);
  CHECK(order == std::vector<int64_t>{4, 2, 6, 1, 5, 3, 7, 0});
  const auto long_order = search::spread_order(50);
  CHECK(std::set<int64_t>(long_order.begin(), long_order.end()).size() == 50);
  search::PlanRequest request;
  request.strategy = search::Strategy::Random;
  request.targets = {5};
  request.seed = 3;
  const auto config = apriel_shape(12);
  const auto a = search::make_plan(request, config, {}, {}, {}), b = search::make_plan(request, config, {}, {}, {});
  CHECK(a.layer_order == b.layer_order);
  CHECK(std::set<int64_t>(a.layer_order.begin(), a.layer_order.end()).size() == 12);
  CHECK(a.targets[0].quality_metric == "none (no scores)");
}

TEST_CASE("plans refuse impossible targets and missing scores, naming the flag or the command", "[planner]") {
  const auto config = apriel_shape(10);
  search::PlanRequest request;
  request.strategy = search::Strategy::Loo;
  request.targets = {11};
  REQUIRE_ERROR(search::make_plan(request, config, tables(10), {}, {}), "--targets: 11 Mamba layers of 10");
  request.targets = {8};
  request.keep = {0, 4, 9};
  REQUIRE_ERROR(search::make_plan(request, config, tables(10), {}, {}), "at most 7");
  request.keep = {12};
  REQUIRE_ERROR(search::make_plan(request, config, tables(10), {}, {}), "--keep: layer 12 is outside");
  request.keep = {};
  request.strategy = search::Strategy::Mmr;
  REQUIRE_ERROR(search::make_plan(request, config, {}, {}, {}), "run `hybridize score mmr --db ...` first");
}

TEST_CASE("the throughput model: fewer attention layers, less memory per sequence and more tokens/s", "[planner]") {
  auto config = apriel_shape(50);
  config.ssm = model::mil_ssm_config(config);
  const search::Workload workload;  // 4096 + 4096 tokens, bf16
  const search::HardwareRates rates;
  const auto teacher = search::predict_cost(config, model::Layout::all_attention(50), workload, rates);
  CHECK(teacher.kv_bytes_per_token == 50 * 2 * 8 * 128 * 2);
  CHECK(teacher.memory_per_sequence == teacher.kv_bytes_per_token * 8192);
  CHECK(teacher.weight_bytes > int64_t(28e9));
  // One step of one sequence moves the weights and its KV cache at the mean context, 4096 + 4096 / 2 tokens.
  const auto one = search::decode_step_work(config, model::Layout::all_attention(50), workload, 1);
  CHECK(one.bytes == double(teacher.weight_bytes) + double(teacher.kv_bytes_per_token) * 6144);
  CHECK(
      search::decode_step_work(config, model::Layout::all_attention(50), workload, teacher.max_batch).seconds(rates) ==
      Approx(teacher.step_seconds).epsilon(1e-12));
  double previous = teacher.decode_tokens_per_second;
  int64_t previous_memory = teacher.memory_per_sequence;
  for (const int64_t mamba : {25, 30, 40}) {
    std::string letters(50, 'A');
    for (int64_t i = 0; i < mamba; ++i) letters[std::size_t(i)] = 'M';
    const auto cost = search::predict_cost(config, model::Layout::parse(letters, 50, "test"), workload, rates);
    CHECK(cost.memory_per_sequence < previous_memory);
    CHECK(cost.decode_tokens_per_second > previous);
    CHECK(cost.max_batch * cost.memory_per_sequence <= int64_t(0.9 * double(rates.memory_bytes)) - cost.weight_bytes);
    previous = cost.decode_tokens_per_second;
    previous_memory = cost.memory_per_sequence;
  }
}

TEST_CASE("rates measured by bench and stored calibrate the plan's predicted speeds", "[planner]") {
  testing::TempDir dir;
  store::ResultsStore results(dir / "results.db");
  CHECK_FALSE(search::stored_rates(results));
  // A device at half the nominal bandwidth and FLOP rate, with the nominal memory.
  const search::HardwareRates nominal;
  infer::DeviceRates measured;
  measured.device_name = "Test GPU";
  measured.memory_bytes = nominal.memory_bytes;
  measured.copy_bytes_per_second = nominal.bytes_per_second / 2;
  measured.matmul_flops_per_second = nominal.flops_per_second / 2;
  search::store_device_rates(results, measured, "bf16");
  const auto stored = search::stored_rates(results);
  REQUIRE(stored);
  CHECK(stored->bytes_per_second == measured.copy_bytes_per_second);
  CHECK(stored->flops_per_second == measured.matmul_flops_per_second);
  CHECK(stored->name.find("Test GPU") != std::string::npos);
  // The newest measurement wins.
  measured.device_name = "Newer GPU";
  search::store_device_rates(results, measured, "bf16");
  CHECK(search::stored_rates(results)->name.find("Newer GPU") != std::string::npos);

  search::PlanRequest request;
  request.strategy = search::Strategy::Uniform;
  request.targets = {25, 40};
  const auto config = apriel_shape(50);
  const search::Workload workload;
  const auto with_nominal = search::make_plan(request, config, {}, workload, nominal);
  const auto with_measured = search::make_plan(request, config, {}, workload, *stored);
  REQUIRE(with_measured.targets.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    // Same batch (same memory), every step twice as long: half the tokens/s, the same speed-up.
    const auto& a = with_nominal.targets[i];
    const auto& b = with_measured.targets[i];
    CHECK(b.max_batch == a.max_batch);
    CHECK(b.predicted_tokens_per_s == Approx(a.predicted_tokens_per_s / 2).epsilon(1e-12));
    CHECK(b.predicted_speedup == Approx(a.predicted_speedup).epsilon(1e-12));
  }
}

TEST_CASE("KV-cache bytes per token of a Llama-3-8B shape, by hand", "[planner]") {
  nlohmann::json j = {{"model_type", "llama"},      {"vocab_size", 128256},    {"hidden_size", 4096},
                      {"intermediate_size", 14336}, {"num_hidden_layers", 32}, {"num_attention_heads", 32},
                      {"num_key_value_heads", 8},   {"rope_theta", 500000.0},  {"max_position_embeddings", 8192}};
  const auto config = io::parse_transformer_config(j, "llama-3-8b");
  const auto cost = search::predict_cost(config, model::Layout::all_attention(32), {}, {});
  CHECK(cost.kv_bytes_per_token == 32 * 2 * 8 * 128 * 2);  // layers x (K, V) x kv heads x head_dim x bf16
  CHECK(cost.parameters == int64_t(8030261248));           // Llama-3-8B's published count
}

TEST_CASE("the stage graph shares the stages that plans agree on and orders parents first", "[planner]") {
  store::PlanRecord a, b;
  a.id = 1;
  b.id = 2;
  a.stages = {{0, 0, std::nullopt, 2, {0, 1}, "MMAA", 0, false, "pending", ""},
              {0, 1, 0, 3, {2}, "MMMA", 0, false, "pending", ""}};
  b.stages = {{0, 0, std::nullopt, 2, {0, 1}, "MMAA", 0, false, "pending", ""},
              {0, 1, 0, 3, {3}, "MMAM", 0, false, "pending", ""}};
  const auto jobs = search::execution_order({a, b});
  REQUIRE(jobs.size() == 3);
  CHECK(jobs[0].layout == "MMAA");
  CHECK(jobs[0].uses.size() == 2);
  CHECK(jobs[1].parent == "MMAA");
  CHECK(jobs[2].parent == "MMAA");
  CHECK(search::describe(jobs).find("-> MMMA") != std::string::npos);
}
