// `hybridize data tokenize`: JSONL chat examples -> a Fast-LLM indexed dataset
// (.bin/.idx) whose loss-masking spans leave only the assistant's tokens trained.
#include <cstdio>

#include "cli/commands.h"
#include "cli/option_checks.h"
#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "data/chat_template_detection.h"
#include "data/chat_tokenization.h"
#include "data/jsonl_examples.h"
#include "data/megatron_format.h"
#include "data/megatron_writer.h"

namespace hybridize::cli {

namespace {

struct DataTokenizeOptions {
  std::string input;
  std::string tokenizer;
  std::string tokenizer_config;  // default: tokenizer_config.json beside the tokenizer
  std::string chat_template = "auto";
  std::string output;
  std::string on_malformed = "fail";
  int64_t vocab_size = 0;
};

data::MalformedLines parse_policy(const std::string& name) {
  if (name == "fail") return data::MalformedLines::Fail;
  if (name == "skip") return data::MalformedLines::Skip;
  fail("--on-malformed: '", name, "' is not fail or skip");
}

data::ChatTemplate choose_template(const DataTokenizeOptions& options) {
  if (options.chat_template != "auto") return data::chat_template_named(options.chat_template);
  const std::filesystem::path config =
      options.tokenizer_config.empty()
          ? std::filesystem::path(options.tokenizer).parent_path() / "tokenizer_config.json"
          : std::filesystem::path(options.tokenizer_config);
  return data::detect_chat_template(config);
}

void run_data_tokenize(const DataTokenizeOptions& options) {
  const auto policy = parse_policy(options.on_malformed);
  const data::Tokenizer tokenizer(options.tokenizer);
  const data::ChatTemplate chat_template = choose_template(options);
  data::check_chat_markers(tokenizer, chat_template, options.tokenizer);
  const int64_t vocab = options.vocab_size > 0 ? options.vocab_size : tokenizer.vocab_size();

  data::JsonlExamples input = data::read_jsonl_examples(options.input, policy);
  if (input.examples.empty()) fail(options.input, ": no examples to tokenize");

  data::MegatronWriter writer(options.output, data::megatron::dtype_for_vocab(vocab));
  uint64_t tokens = 0, trainable = 0;
  std::size_t skipped = input.skipped_lines;
  ProgressReporter progress("tokenizing " + options.input, 0, int64_t(input.examples.size()),
                            ProgressReporter::stderr_is_terminal(), 1000);
  for (std::size_t i = 0; i < input.examples.size(); ++i) {
    const data::ChatExample& example = input.examples[i];
    data::TokenizedChat chat;
    try {
      chat = data::tokenize_chat(tokenizer, data::render_chat(chat_template, example));
    } catch (const Error& error) {
      if (policy == data::MalformedLines::Fail) fail(options.input, ": line ", example.line, ": ", error.what());
      log_warning(options.input, ": line ", example.line, " skipped: ", error.what());
      ++skipped;
      continue;
    }
    std::vector<data::TokenId> ids(chat.ids.begin(), chat.ids.end());
    for (std::size_t t = 0; t < ids.size(); ++t)
      if (ids[t] >= vocab)
        fail(options.input, ": line ", example.line, ": token ", t, " has id ", ids[t], ", not below --vocab-size ",
             vocab);
    writer.add_document(ids, chat.trainable);
    tokens += ids.size();
    for (const auto& span : chat.trainable) trainable += span.end - span.begin;
    progress.update(int64_t(i + 1), "");
  }
  progress.finish();
  writer.finish();

  std::printf("chat template   %s\n", std::string(data::chat_format_name(chat_template.format)).c_str());
  std::printf("examples        %zu\n", writer.document_count());
  std::printf("skipped lines   %zu\n", skipped);
  std::printf("tokens          %llu\n", (unsigned long long)tokens);
  std::printf("trainable       %llu (%.1f%%, assistant turns only)\n", (unsigned long long)trainable,
              tokens ? 100.0 * double(trainable) / double(tokens) : 0.0);
  std::printf("written         %s, %s\n", data::megatron::bin_path(options.output).c_str(),
              data::megatron::idx_path(options.output).c_str());
}

}  // namespace

void add_data_tokenize_command(CLI::App& data_command) {
  auto options = std::make_shared<DataTokenizeOptions>();
  auto* tokenize = data_command.add_subcommand(
      "tokenize",
      "Tokenize JSONL chat examples into a Fast-LLM .bin/.idx dataset whose loss covers assistant turns only");
  tokenize
      ->add_option("--input", options->input, "JSONL file: {\"messages\": [...]} or {\"prompt\", \"response\"} a line")
      ->required();
  tokenize->add_option("--tokenizer", options->tokenizer, "The model's tokenizer.json")->required();
  tokenize->add_option("--tokenizer-config", options->tokenizer_config,
                       "tokenizer_config.json holding the chat template (default: beside --tokenizer)");
  tokenize
      ->add_option("--chat-template", options->chat_template,
                   "auto (from the tokenizer config), chatml, qwen2, llama3 or mistral")
      ->capture_default_str();
  tokenize->add_option("--output", options->output, "Output prefix: writes PREFIX.bin and PREFIX.idx")->required();
  tokenize
      ->add_option("--on-malformed", options->on_malformed, "A malformed line: fail (naming it) or skip (counting it)")
      ->capture_default_str();
  tokenize->add_option("--vocab-size", options->vocab_size, "Check every id is below this (default: the tokenizer's)")
      ->check(at_least(1));
  tokenize->callback([options] { run_data_tokenize(*options); });
}

}  // namespace hybridize::cli
