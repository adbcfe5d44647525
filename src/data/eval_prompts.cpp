#include "data/eval_prompts.h"

#include <algorithm>

#include "core/error.h"
#include "core/json_file.h"
#include "data/answer_checker.h"
#include "data/chat_template_detection.h"
#include "data/chat_tokenization.h"
#include "data/synthetic_vocabulary.h"

namespace hybridize::data {

namespace {

// eos_token_id of an HF config.json or generation_config.json: an id, a list of ids, or absent.
void add_config_eos(const std::filesystem::path& file, std::vector<int64_t>& ids) {
  if (!std::filesystem::exists(file)) return;
  const auto config = read_json_file(file);
  const auto it = config.find("eos_token_id");
  if (it == config.end() || it->is_null()) return;
  const auto add = [&](const nlohmann::json& id) {
    if (!id.is_number_integer()) fail(file.string(), ": eos_token_id holds ", id.dump(), ", not a token id");
    ids.push_back(id.get<int64_t>());
  };
  if (it->is_array()) {
    for (const auto& id : *it) add(id);
  } else {
    add(*it);
  }
}

}  // namespace

EvalPrompter::EvalPrompter(const std::filesystem::path& model_dir, int64_t vocab_size,
                           const std::string& chat_template) {
  const auto tokenizer_file = model_dir / "tokenizer.json";
  if (!std::filesystem::exists(tokenizer_file)) {
    if (vocab_size != synthetic::kVocabSize)
      fail(model_dir.string(),
           ": no tokenizer.json, so eval cannot write its prompts (only a model of the synthetic "
           "task's ",
           synthetic::kVocabSize, "-token vocabulary needs none; this one has ", vocab_size, ")");
    format_ = "synthetic";
    stop_tokens_ = {synthetic::kEosId};
    pad_id_ = synthetic::kPadId;
    return;
  }
  tokenizer_ = std::make_unique<Tokenizer>(tokenizer_file);
  template_ = chat_template == "auto" ? detect_chat_template(model_dir / "tokenizer_config.json")
                                      : chat_template_named(chat_template);
  check_chat_markers(*tokenizer_, template_, tokenizer_file.string());
  format_ = std::string(chat_format_name(template_.format));
  stop_tokens_.push_back(*tokenizer_->token_to_id(std::string(end_of_turn_marker(template_.format))));
  if (const auto eos = tokenizer_->eos_id()) stop_tokens_.push_back(*eos);
  add_config_eos(model_dir / "config.json", stop_tokens_);
  add_config_eos(model_dir / "generation_config.json", stop_tokens_);
  std::sort(stop_tokens_.begin(), stop_tokens_.end());
  stop_tokens_.erase(std::unique(stop_tokens_.begin(), stop_tokens_.end()), stop_tokens_.end());
  for (const int64_t id : stop_tokens_)
    if (id < 0 || id >= vocab_size)
      fail(model_dir.string(), ": stop token ", id, " (an eos_token_id) is outside the model's vocabulary of ",
           vocab_size);
  pad_id_ = stop_tokens_.front();
}

EvalPrompter::~EvalPrompter() = default;

EvalPrompt EvalPrompter::prompt(const EvalProblem& problem) const {
  if (!tokenizer_) {
    if (!problem.system.empty()) fail("problem ", problem.id, ": the synthetic task takes no system prompt");
    const auto ids = with_context("problem " + problem.id + ": ", [&] {
      return synthetic::encode(std::string(1, synthetic::kBos) + problem.question + synthetic::kTraceSeparator);
    });
    return {std::vector<int64_t>(ids.begin(), ids.end()), false};
  }
  ChatExample conversation;
  if (!problem.system.empty()) conversation.turns.push_back({"system", problem.system});
  conversation.turns.push_back({"user", problem.question});
  const std::string text = render_generation_prompt(template_, conversation);
  const auto ids = tokenizer_->encode(text, /*add_special_tokens=*/false);
  return {std::vector<int64_t>(ids.begin(), ids.end()), opens_thinking(text)};
}

std::string EvalPrompter::text(const std::vector<int64_t>& generated) const {
  auto end = generated.end();
  if (!generated.empty() && std::find(stop_tokens_.begin(), stop_tokens_.end(), generated.back()) != stop_tokens_.end())
    --end;
  if (!tokenizer_) return synthetic::decode(std::vector<TokenId>(generated.begin(), end));
  return tokenizer_->decode(std::vector<int32_t>(generated.begin(), end), /*skip_special_tokens=*/false);
}

}  // namespace hybridize::data
