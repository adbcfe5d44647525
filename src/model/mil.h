#pragma once
// Mamba-in-Llama (MIL) initialisation: a Mamba mixer that starts from the
// attention it replaces, as Apriel-H1 builds each stage's new Mamba layers.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "model/attention.h"
#include "model/causal_lm.h"
#include "model/mamba.h"

namespace hybridize::model {

// SSM widths that let MIL copy attention weights: d_inner = heads * head_dim
// (C from q_proj), d_xb = kv_heads * head_dim (x from v_proj, B from k_proj).
io::SsmConfig mil_ssm_config(const io::TransformerConfig& config, int64_t d_state = 16);

// Copies q/k/v/o into the mixer: in_proj rows [z | x | B | C | dt] get
// x <- v_proj, B <- k_proj, C <- q_proj; out_proj <- o_proj. z, dt, the conv,
// A_log and D keep their fresh initialisation. Throws naming the ssm_cfg key
// when the widths do not match the attention's.
void mil_initialize(Mamba& mamba, const Attention& attention);

// How derive_hybrid gives the student its carried-over tensors.
struct Derivation {
  // Tensors (by HF name) the student takes from the source as they are, sharing
  // their storage: frozen weights a stage must not copy (a 15B teacher's take
  // 30 GB). The others are copied.
  std::function<bool(const std::string& name)> share;
  // Precision of the copied parameters and the new mixers (default: the
  // source's); Mamba's A_log and D are fp32 whatever it is.
  std::optional<at::ScalarType> dtype;

  // Every carried tensor shared: the source's layout variants (LOO's ablations,
  // the benchmark's hybrids) cost only their new mixers' memory.
  static Derivation sharing_all() {
    return {[](const std::string&) { return true; }, std::nullopt};
  }
};

// The student of a distillation stage: `source` (the teacher or the previous
// stage's student) rebuilt with `layout` on the source's device. Layers that
// become Mamba where the source has attention are MIL-initialised from it
// (fresh parts drawn from `seed` + layer); every other parameter, norms and
// MLPs of converted layers included, is carried over from the source. Nothing
// is allocated twice: the student is laid out on the host without touching
// memory, and each tensor then moves to the device once. The source's config
// must carry the SSM settings (see mil_ssm_config) when `layout` has Mamba layers.
CausalLM derive_hybrid(CausalLMImpl& source, const Layout& layout, const io::SsmConfig& ssm, uint64_t seed,
                       const Derivation& derivation = {});

}  // namespace hybridize::model
