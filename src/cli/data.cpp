// `hybridize data inspect PATH`: what a pre-tokenized corpus holds; `data
// tokenize` lives in data_tokenize.cpp.
#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>

#include "cli/commands.h"
#include "cli/option_checks.h"
#include "core/error.h"
#include "core/format.h"
#include "data/open_token_source.h"
#include "data/tokenizer.h"

namespace hybridize::cli {

namespace {

struct DataInspectOptions {
  std::string path;
  std::string raw_dtype;
  std::string tokenizer;
  int64_t vocab_size = 0;
  int sample_tokens = 64;
};

std::optional<data::TokenDType> parse_raw_dtype(const std::string& name) {
  if (name.empty()) return std::nullopt;
  if (name == "uint16") return data::TokenDType::U16;
  if (name == "uint32") return data::TokenDType::U32;
  fail("--raw-dtype: '", name, "' is not supported (uint16 or uint32)");
}

void run_data_inspect(const DataInspectOptions& options) {
  const auto source = data::open_token_source(options.path, parse_raw_dtype(options.raw_dtype));
  const std::size_t documents = source->document_count();
  std::size_t shortest = SIZE_MAX, longest = 0;
  std::map<int, std::size_t> by_power_of_two;  // bucket b holds lengths in [2^b, 2^(b+1))
  for (std::size_t i = 0; i < documents; ++i) {
    const std::size_t length = source->document(i).size();
    shortest = std::min(shortest, length);
    longest = std::max(longest, length);
    int bucket = 0;
    while ((std::size_t(2) << bucket) <= length) ++bucket;
    ++by_power_of_two[length == 0 ? -1 : bucket];
  }
  std::printf("file         %s\n", source->path().c_str());
  std::printf("documents    %zu\n", documents);
  std::printf("tokens       %llu (%s)\n", (unsigned long long)source->total_tokens(),
              format_count(int64_t(source->total_tokens())).c_str());
  if (documents > 0)
    std::printf("lengths      min %zu, mean %.1f, max %zu\n", shortest,
                double(source->total_tokens()) / double(documents), longest);
  if (source->has_loss_spans()) {
    uint64_t trainable = 0;
    for (std::size_t i = 0; i < documents; ++i)
      for (const auto& span : source->trainable_spans(i)) trainable += span.end - span.begin;
    std::printf("trainable    %llu tokens (%.1f%%; the rest carry loss-masking spans)\n", (unsigned long long)trainable,
                source->total_tokens() ? 100.0 * double(trainable) / double(source->total_tokens()) : 0.0);
  }
  std::printf("\n%-18s %10s\n", "length", "documents");
  for (const auto& [bucket, count] : by_power_of_two) {
    const std::string range =
        bucket < 0 ? "0"
                   : std::to_string(std::size_t(1) << bucket) + "-" + std::to_string((std::size_t(2) << bucket) - 1);
    std::printf("%-18s %10zu\n", range.c_str(), count);
  }

  const auto tokenizer = options.tokenizer.empty() ? nullptr : std::make_unique<data::Tokenizer>(options.tokenizer);
  const int64_t vocab = options.vocab_size > 0 ? options.vocab_size : tokenizer ? int64_t(tokenizer->vocab_size()) : 0;
  if (vocab > 0) {
    data::validate_token_ids(*source, vocab);
    std::printf("\nevery id is below the vocabulary size %lld\n", (long long)vocab);
  }
  if (tokenizer && documents > 0) {
    const auto first = source->document(0);
    std::vector<int32_t> ids;
    for (std::size_t i = 0; i < std::min<std::size_t>(first.size(), options.sample_tokens); ++i)
      ids.push_back(static_cast<int32_t>(first[i]));
    std::printf("\ndocument 0, first %zu tokens decoded:\n%s\n", ids.size(), tokenizer->decode(ids, false).c_str());
  }
}

}  // namespace

void add_data_command(CLI::App& app) {
  auto* data_command =
      app.add_subcommand("data", "Token datasets: tokenize chat examples, inspect pre-tokenized corpora");
  data_command->require_subcommand(1);
  auto options = std::make_shared<DataInspectOptions>();
  auto* inspect = data_command->add_subcommand(
      "inspect",
      "Counts, document-length histogram and a decoded sample of a Megatron .bin/.idx, .npy or raw token file");
  inspect->add_option("PATH", options->path, "x.idx, x.bin, a prefix x with x.idx, x.npy, or a raw token file")
      ->required();
  inspect->add_option("--raw-dtype", options->raw_dtype, "Width of a raw token file: uint16 or uint32");
  inspect->add_option("--tokenizer", options->tokenizer, "tokenizer.json to decode a sample and check ids against");
  inspect->add_option("--vocab-size", options->vocab_size, "Check every id is below this (default: the tokenizer's)")
      ->check(at_least(1));
  inspect->add_option("--sample-tokens", options->sample_tokens, "How many tokens of document 0 to decode")
      ->check(at_least(0))
      ->capture_default_str();
  inspect->callback([options] { run_data_inspect(*options); });
  add_data_tokenize_command(*data_command);
}

}  // namespace hybridize::cli
