// Re-ranking a paper-strategy stage on its parent student: which layers are
// probed, which are chosen, and that the parent comes back unchanged.
#include <torch/torch.h>

#include <map>
#include <numeric>

#include "infer/random_models.h"
#include "model/reference_models.h"
#include "model/weights.h"
#include "search/stage_rescoring.h"

using namespace hybridize;

TEST_CASE("re-ranking probes the parent's remaining attention layers and takes the closest", "[search][rescore]") {
  auto teacher = model::load_causal_lm(testing::reference_model("llama"));  // 3 layers, vocab 96
  auto parent = testing::random_hybrid(*teacher, "MAA");
  data::SequenceSpec spec;
  spec.samples = 4;
  const auto data = train::load_sequences(spec, teacher->config.vocab_size);
  search::MmrOptions options;
  options.steps = 3;
  options.batch_size = 2;
  options.warmup_steps = 1;
  options.d_state = 8;

  const auto before = parent->named_parameters()["model.layers.1.self_attn.q_proj.weight"].clone();
  parent->named_parameters()["model.layers.2.mlp.up_proj.weight"].set_requires_grad(false);  // frozen stays frozen
  std::map<std::string, bool> trainable;
  for (const auto& item : parent->named_parameters()) trainable[item.key()] = item.value().requires_grad();
  const auto ranked = search::rescore_stage(*parent, 1, {}, data, data, options);
  // Layer 0 is Mamba already: only 1 and 2 are probed.
  REQUIRE(ranked.probes.size() == 2);
  const double one = ranked.probes.at("1").get<double>(), two = ranked.probes.at("2").get<double>();
  CHECK(one != two);
  const int64_t closest = one < two ? 1 : 2;
  CHECK(ranked.new_layers == std::vector<int64_t>{closest});
  CHECK(ranked.layout.to_string() == (closest == 1 ? "MMA" : "MAM"));
  // The stored value is the probe's mean held-out distill_loss.
  const auto direct = search::run_mmr_probe(*parent, 1, data, data, options).held_out.at("distill_loss");
  CHECK(one == Approx(std::accumulate(direct.begin(), direct.end(), 0.0) / double(direct.size())).epsilon(1e-9));
  // The parent is given back as it was.
  CHECK(torch::equal(parent->named_parameters()["model.layers.1.self_attn.q_proj.weight"], before));
  for (const auto& item : parent->named_parameters()) CHECK(item.value().requires_grad() == trainable.at(item.key()));

  // Kept layers are never probed nor chosen.
  const auto kept = search::rescore_stage(*parent, 1, {1}, data, data, options);
  CHECK(kept.probes.size() == 1);
  CHECK(kept.new_layers == std::vector<int64_t>{2});
  REQUIRE_ERROR(search::rescore_stage(*parent, 2, {1}, data, data, options), "has 1 attention layers");
}
