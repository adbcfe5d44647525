#include "infer/evaluation.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "core/progress.h"
#include "core/version.h"
#include "data/answer_checker.h"
#include "infer/device_rates.h"
#include "infer/memory_budget.h"

namespace hybridize::infer {

namespace {

constexpr int64_t kMaxSamples = int64_t(1) << 20;  // generation_seed keeps 20 bits for the sample
// Judged generations are written in batches: at most this many, or this often, are lost to a kill.
constexpr std::size_t kRecordBatch = 64;
constexpr double kRecordSeconds = 10;
// Rows decoding at once on a CPU by default: a CPU's memory is not sized by the planner, and more rows gain little.
constexpr int64_t kCpuRows = 64;

store::EvalTaskRecord task_record(const data::EvalTask& task) {
  return {task.name, std::filesystem::absolute(task.path).lexically_normal().string(), task.content_hash,
          int64_t(task.problems.size())};
}

// On a GPU, the rows memory_fraction of the card holds at the longest request's length; elsewhere kCpuRows.
int64_t rows_for_memory(const model::CausalLMImpl& model, const std::vector<GenerationRequest>& requests,
                        const EvalSettings& settings) {
  const auto& weight = model.model->embed_tokens->weight;
  const int64_t memory = device_memory_bytes(weight.device());
  if (memory == 0) return kCpuRows;
  int64_t longest = 0;
  for (const auto& request : requests)
    longest = std::max<int64_t>(longest, int64_t(request.prompt.size()) + request.max_new_tokens);
  const int64_t rows =
      max_batch_for_memory(model.config, model.layout, longest, weight.scalar_type(), settings.prefill_tokens,
                           std::llround(settings.memory_fraction * double(memory)));
  if (rows == 0)
    fail("eval: not one generation of ", longest, " tokens fits ", settings.memory_fraction,
         " of the device's memory beside the weights; raise --memory-fraction or lower --max-new-tokens");
  return rows;
}

}  // namespace

void EvalSettings::validate() const {
  if (samples < 1 || samples > kMaxSamples) fail("eval: samples must be in [1, ", kMaxSamples, "], got ", samples);
  if (!(temperature >= 0)) fail("eval: temperature must be 0 (greedy) or positive, got ", temperature);
  if (temperature == 0 && samples > 1)
    fail("eval: ", samples, " samples a problem need a temperature above 0 (greedy generations are all alike)");
  if (!(top_p > 0 && top_p <= 1)) fail("eval: top_p must be in (0, 1], got ", top_p);
  if (max_new_tokens < 1) fail("eval: max_new_tokens must be at least 1, got ", max_new_tokens);
  if (max_batch < 0) fail("eval: max_batch must be positive (or 0 to size it from memory), got ", max_batch);
  if (!(memory_fraction > 0 && memory_fraction <= 1))
    fail("eval: memory_fraction must be in (0, 1], got ", memory_fraction);
  if (prefill_tokens < 1) fail("eval: prefill_tokens must be at least 1, got ", prefill_tokens);
}

nlohmann::json EvalSettings::provenance(const data::EvalPrompter& prompter, const model::CausalLMImpl& model) const {
  const auto& weight = model.model->embed_tokens->weight;
  // Greedy generation draws nothing: its seed and top_p change no result, so they do not split evaluations.
  const bool greedy = temperature == 0;
  return {{"samples", samples},
          {"temperature", temperature},
          {"top_p", greedy ? 1.0 : top_p},
          {"seed", greedy ? uint64_t(0) : seed},
          {"max_new_tokens", max_new_tokens},
          {"prompt_format", prompter.format()},
          {"dtype", std::string(c10::toString(weight.scalar_type()))},
          {"device", c10::DeviceTypeName(weight.device().type(), /*lower_case=*/true)}};
}

uint64_t generation_seed(int64_t problem, int64_t sample) { return (uint64_t(problem) << 20) | uint64_t(sample); }

void generate_and_judge(model::CausalLMImpl& model, const data::EvalPrompter& prompter, const data::EvalTask& task,
                        const EvalSettings& settings, const std::set<std::pair<int64_t, int64_t>>& done,
                        const std::function<void(const store::EvalSampleRecord&)>& on_result) {
  settings.validate();
  const int64_t context = model.config.max_position_embeddings;
  struct Pending {
    int64_t problem, sample;
    bool opens_thinking;
  };
  std::vector<GenerationRequest> requests;
  std::vector<Pending> pending;
  for (int64_t p = 0; p < int64_t(task.problems.size()); ++p) {
    const auto& problem = task.problems[std::size_t(p)];
    std::optional<data::EvalPrompt> prompt;
    for (int64_t s = 0; s < settings.samples; ++s) {
      if (done.contains({p, s})) continue;
      if (!prompt) {
        try {
          prompt = prompter.prompt(problem);
        } catch (const Error& error) {
          fail(task.path.string(), ": line ", problem.line, ": ", error.what());
        }
        if (context > 0 && int64_t(prompt->tokens.size()) >= context)
          fail(task.path.string(), ": line ", problem.line, ": problem ", problem.id, "'s prompt has ",
               prompt->tokens.size(), " tokens, leaving no room to answer in the model's context of ", context);
      }
      // A generation may run to the end of the model's context, not past it.
      const int64_t room = context > 0 ? context - int64_t(prompt->tokens.size()) : settings.max_new_tokens;
      requests.push_back({prompt->tokens, std::min(settings.max_new_tokens, room), generation_seed(p, s)});
      pending.push_back({p, s, prompt->opens_thinking});
    }
  }
  if (requests.empty()) return;
  const int64_t rows = settings.max_batch > 0 ? settings.max_batch : rows_for_memory(model, requests, settings);
  GenerationOptions options;
  options.max_new_tokens = settings.max_new_tokens;
  options.stop_tokens = prompter.stop_tokens();
  options.pad_id = prompter.pad_id();
  options.temperature = settings.temperature;
  options.top_p = settings.top_p;
  options.seed = settings.seed;
  options.max_batch = rows;
  options.prefill_tokens = settings.prefill_tokens;
  const auto& stops = prompter.stop_tokens();
  serve(model, requests, options, nullptr, [&](std::size_t index, const std::vector<int64_t>& tokens) {
    const Pending& which = pending[index];
    const auto& problem = task.problems[std::size_t(which.problem)];
    const bool stopped = !tokens.empty() && std::find(stops.begin(), stops.end(), tokens.back()) != stops.end();
    const std::string text = prompter.text(tokens);
    const auto judgement = data::judge_answer(problem, text, which.opens_thinking);
    on_result({which.problem, which.sample, std::string(data::outcome_name(judgement.outcome)), !stopped,
               int64_t(tokens.size()), judgement.extracted, text});
  });
}

EvalOutcome evaluate(store::ResultsStore& store, model::CausalLMImpl& model, const store::ModelRecord& record,
                     const std::filesystem::path& model_dir, const data::EvalTask& task, const EvalSettings& settings,
                     std::optional<int64_t> stage_id) {
  settings.validate();
  const data::EvalPrompter prompter(model_dir, model.config.vocab_size, settings.chat_template);
  store::EvaluationStore evaluations(store);
  EvalOutcome outcome;
  outcome.evaluation = evaluations.open(record, task_record(task), settings.provenance(prompter, model),
                                        std::string(code_version()), stage_id);
  const int64_t id = outcome.evaluation.id;
  const auto done = evaluations.done(id);
  const int64_t total = int64_t(task.problems.size()) * settings.samples;
  const int64_t already = int64_t(done.size());

  ProgressReporter progress("eval " + task.name, already, total, ProgressReporter::stderr_is_terminal(),
                            std::max<int64_t>(1, total / 20));
  std::vector<store::EvalSampleRecord> batch;
  auto last_write = std::chrono::steady_clock::now();
  int64_t correct = 0;
  const auto write = [&] {
    const auto now = std::chrono::steady_clock::now();
    evaluations.record(id, batch, std::chrono::duration<double>(now - last_write).count());
    batch.clear();
    last_write = now;
  };
  generate_and_judge(model, prompter, task, settings, done, [&](const store::EvalSampleRecord& sample) {
    batch.push_back(sample);
    ++outcome.generated;
    correct += sample.outcome == "correct";
    if (batch.size() >= kRecordBatch ||
        std::chrono::duration<double>(std::chrono::steady_clock::now() - last_write).count() >= kRecordSeconds)
      write();
    char details[64];
    std::snprintf(details, sizeof details, "%.1f%% of new generations correct",
                  100.0 * double(correct) / double(outcome.generated));
    progress.update(already + outcome.generated, details);
  });
  if (!batch.empty()) write();
  progress.finish();
  evaluations.finish(id);
  outcome.evaluation.status = "done";
  outcome.summary = store::summarize_evaluation(evaluations.samples(id, /*with_completions=*/false), settings.seed);
  return outcome;
}

}  // namespace hybridize::infer
