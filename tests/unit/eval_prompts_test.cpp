// Prompts of `hybridize eval` for a model with a tokenizer: a problem (a
// system message, then the question) becomes the ids HF's
// apply_chat_template(..., add_generation_prompt=True) gives, generation stops
// at the template's end of turn or the config's EOS ids, and generated ids
// come back as text without the stop token.
#include <filesystem>
#include <nlohmann/json.hpp>

#include "catch.h"
#include "data/eval_prompts.h"
#include "temp_dir.h"
#include "tokenizer_references.h"

using namespace hybridize;
using namespace hybridize::data;
using hybridize::testing::read_text;
using hybridize::testing::TempDir;
using hybridize::testing::tokenizer_reference_dir;
using hybridize::testing::write_text;
using nlohmann::json;

namespace {

// The reference's chat model directory, with a config.json naming extra EOS ids.
std::filesystem::path model_dir(const TempDir& dir, const std::string& format, const json& eos) {
  const auto source = tokenizer_reference_dir() / ("chat_" + format);
  for (const char* file : {"tokenizer.json", "tokenizer_config.json"})
    std::filesystem::copy_file(source / file, dir / file);
  write_text(dir / "config.json", json{{"eos_token_id", eos}}.dump());
  return dir.path();
}

}  // namespace

TEST_CASE("eval prompts are HF's generation prompts, and stop at the end of turn or an EOS id", "[data][eval]") {
  for (const std::string format : {"chatml", "llama3"}) {
    TempDir dir;
    const auto model = model_dir(dir, format, json::array({3, 5}));
    const Tokenizer tokenizer(model / "tokenizer.json");
    const EvalPrompter prompter(model, tokenizer.vocab_size(), "auto");
    CHECK(prompter.format() == format);
    const auto end_of_turn = *tokenizer.token_to_id(
        std::string(end_of_turn_marker(format == "chatml" ? ChatFormat::ChatMl : ChatFormat::Llama3)));
    const auto& stops = prompter.stop_tokens();
    CHECK(std::find(stops.begin(), stops.end(), end_of_turn) != stops.end());
    CHECK(std::find(stops.begin(), stops.end(), 3) != stops.end());
    CHECK(std::find(stops.begin(), stops.end(), 5) != stops.end());
    // Every reference prompt of a system and a user message, or a user message alone, as a problem.
    const json reference = json::parse(read_text(tokenizer_reference_dir() / ("chat_" + format) / "reference.json"));
    int checked = 0;
    for (const auto& p : reference.at("prompts")) {
      const auto& messages = p.at("messages");
      const bool system = messages.size() == 2 && messages[0].at("role") == "system";
      if (!(system || messages.size() == 1)) continue;
      EvalProblem problem;
      problem.id = "p";
      problem.question = messages.back().at("content");
      if (system) problem.system = messages[0].at("content");
      const auto prompt = prompter.prompt(problem);
      INFO(format << ": " << p.at("text").get<std::string>());
      CHECK(prompt.tokens == p.at("ids").get<std::vector<int64_t>>());
      CHECK_FALSE(prompt.opens_thinking);
      ++checked;
    }
    CHECK(checked >= 3);
    // Generated ids become text; the final stop token is left out, special tokens inside are kept.
    const auto ids = tokenizer.encode("The answer is \\boxed{4}.", false);
    std::vector<int64_t> generated(ids.begin(), ids.end());
    CHECK(prompter.text(generated) == "The answer is \\boxed{4}.");
    generated.push_back(end_of_turn);
    CHECK(prompter.text(generated) == "The answer is \\boxed{4}.");
  }
}

TEST_CASE("eval prompts refuse what cannot be rendered, naming it", "[data][eval][bad-input]") {
  TempDir dir;
  const auto model = model_dir(dir, "chatml", 999999);
  const Tokenizer tokenizer(model / "tokenizer.json");
  REQUIRE_ERROR(EvalPrompter(model, tokenizer.vocab_size(), "auto"),
                "stop token 999999 (an eos_token_id) is outside the model's vocabulary");
  write_text(dir / "config.json", json{{"eos_token_id", "</s>"}}.dump());
  REQUIRE_ERROR(EvalPrompter(model, tokenizer.vocab_size(), "auto"),
                "config.json: eos_token_id holds \"</s>\", not a token id");
  REQUIRE_ERROR(EvalPrompter(model, tokenizer.vocab_size(), "vicuna"), "unknown chat template 'vicuna'");
  // The synthetic task's vocabulary takes its own alphabet only.
  TempDir bare;
  const EvalPrompter synthetic(bare.path(), 47, "auto");
  EvalProblem problem;
  problem.id = "7";
  problem.question = "a=1;?a";
  problem.system = "Be brief.";
  REQUIRE_ERROR(synthetic.prompt(problem), "problem 7: the synthetic task takes no system prompt");
  problem.system.clear();
  problem.question = "A=1;?A";
  REQUIRE_ERROR(synthetic.prompt(problem), "'A'");
}
