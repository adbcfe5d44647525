// The scoring driver: results in the store, resume without recomputation,
// refusal to mix inputs; the bootstrap it summarises with.
#include <torch/torch.h>

#include "model/reference_models.h"
#include "search/score_driver.h"
#include "store/bootstrap.h"
#include "temp_dir.h"

using namespace hybridize;
using hybridize::testing::reference_model;
using hybridize::testing::TempDir;

namespace {
search::ScoreOptions options_for(const TempDir& dir, search::Scorer scorer) {
  search::ScoreOptions options;
  options.scorer = scorer;
  options.model_dir = reference_model("llama");
  options.database = dir / "results.db";
  options.data.samples = 7;
  options.batch_size = 3;  // the last batch is short
  options.bootstrap_resamples = 200;
  options.quiet = true;
  return options;
}
}  // namespace

TEST_CASE("a scoring run stores every layer with intervals, and a second run recomputes nothing", "[search]") {
  TempDir dir;
  const auto options = options_for(dir, search::Scorer::Loo);
  const auto first = search::run_scoring(options);
  CHECK(first.layers_computed == 3);
  REQUIRE(first.layers.size() == 3);
  REQUIRE(first.teacher.count("nll"));
  for (const auto& layer : first.layers) {
    CHECK(layer.status == "done");
    const auto& kl = layer.metrics.at("kl");
    CHECK(kl.samples == 7);
    CHECK(*kl.ci_low <= kl.value);
    CHECK(kl.value <= *kl.ci_high);
  }
  CHECK(first.forwards.spent == 3 * 3 + 3 * (3 + 2 + 1));  // three batches

  const auto second = search::run_scoring(options);
  CHECK(second.layers_computed == 0);
  CHECK(second.forwards.spent == 0);
  for (std::size_t i = 0; i < 3; ++i)
    CHECK(second.layers[i].metrics.at("kl").value == first.layers[i].metrics.at("kl").value);

  const auto order = search::ranked(first);
  for (std::size_t i = 1; i < order.size(); ++i)
    CHECK(order[i - 1].metrics.at("kl").value <= order[i].metrics.at("kl").value);

  // Proxies share the run; the same run with other data or precision is refused.
  CHECK(search::run_scoring(options_for(dir, search::Scorer::Proxy)).layers_computed == 3);
  auto other_data = options;
  other_data.data.samples = 8;
  REQUIRE_ERROR(search::run_scoring(other_data), "used data");
  auto other_dtype = options;
  other_dtype.dtype = "bf16";
  REQUIRE_ERROR(search::run_scoring(other_dtype), "dtype=\"fp32\"");
}

TEST_CASE("scoring refuses layers the model does not have and unknown devices", "[search]") {
  TempDir dir;
  auto options = options_for(dir, search::Scorer::Loo);
  options.layers = {1, 3};
  REQUIRE_ERROR(search::run_scoring(options), "--layers: layer 3 is outside the model's 3 layers");
  options.layers = {};
  options.device = "tpu";
  REQUIRE_ERROR(search::run_scoring(options), "--device: 'tpu'");
}

TEST_CASE("the bootstrap interval holds the mean, repeats with its seed and narrows with more samples", "[search]") {
  std::vector<double> few, many;
  for (int i = 0; i < 20; ++i) few.push_back(double(i % 5));
  for (int i = 0; i < 2000; ++i) many.push_back(double(i % 5));
  const store::BootstrapOptions options{500, 0.95, 3};
  const auto a = store::bootstrap_mean(few, options), b = store::bootstrap_mean(few, options);
  CHECK(a.value == Approx(2.0));
  CHECK(*a.ci_low < 2.0);
  CHECK(*a.ci_high > 2.0);
  CHECK(*a.ci_low == *b.ci_low);
  const auto wide = *a.ci_high - *a.ci_low;
  const auto large = store::bootstrap_mean(many, options);
  CHECK(*large.ci_high - *large.ci_low < wide / 5);
  const auto constant = store::bootstrap_mean(std::vector<double>(10, 1.5), options);
  CHECK(*constant.ci_low == 1.5);
  CHECK(*constant.ci_high == 1.5);
  REQUIRE_ERROR(store::bootstrap_mean({}, options), "empty");
}
