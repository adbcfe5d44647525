#pragma once
// How `hybridize eval` talks to a model: a problem (eval_tasks.h) becomes
// prompt tokens, and generated tokens become text to judge. A model with a
// tokenizer.json gets the problem as a conversation in its chat template (the
// problem's system message, then the question) with the generation prompt, as
// HF's apply_chat_template(..., add_generation_prompt=True) renders it; it stops
// at its end-of-turn marker or an EOS id of its config. A model of the built-in
// synthetic task (no tokenizer.json, the task's vocabulary) is given
// "^question>" as its training data writes it and stops at '$'.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "data/chat_template.h"
#include "data/eval_tasks.h"
#include "data/tokenizer.h"

namespace hybridize::data {

struct EvalPrompt {
  std::vector<int64_t> tokens;
  bool opens_thinking = false;  // the template opened a thinking part for the model (answer_checker.h)
};

class EvalPrompter {
 public:
  // `chat_template` is "auto" (detected from tokenizer_config.json) or a name
  // chat_template_named knows. Throws Error naming the model directory or file
  // when the model has no tokenizer.json and is not of the synthetic task's
  // vocabulary, or when its template or markers are unusable.
  EvalPrompter(const std::filesystem::path& model_dir, int64_t vocab_size, const std::string& chat_template);
  ~EvalPrompter();

  // Throws Error naming the problem when it cannot be rendered.
  EvalPrompt prompt(const EvalProblem& problem) const;
  // The generated text, less a final stop token; special tokens are kept (a thinking marker may be one).
  std::string text(const std::vector<int64_t>& generated) const;
  const std::vector<int64_t>& stop_tokens() const { return stop_tokens_; }
  int64_t pad_id() const { return pad_id_; }
  // What renders prompts, for the evaluation's provenance: "chatml" or "synthetic".
  const std::string& format() const { return format_; }

 private:
  std::unique_ptr<Tokenizer> tokenizer_;  // none: the synthetic task
  ChatTemplate template_;
  std::string format_;
  std::vector<int64_t> stop_tokens_;
  int64_t pad_id_ = 0;
};

}  // namespace hybridize::data
