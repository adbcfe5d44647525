// `hybridize train --out DIR`: trains a small Llama-family teacher from scratch
// on the built-in synthetic reasoning task, resumable from its checkpoints,
// then reports its validation accuracy and what removing each layer's attention costs.
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <numeric>

#include "cli/commands.h"
#include "cli/job.h"
#include "cli/option_checks.h"
#include "cli/task_options.h"
#include "core/error.h"
#include "core/format.h"
#include "core/log.h"
#include "core/progress.h"
#include "data/synthetic_vocabulary.h"
#include "infer/task_accuracy.h"
#include "model/summary.h"
#include "model/weights.h"
#include "train/sequence_set.h"
#include "train/teacher_training.h"

namespace hybridize::cli {

namespace {

namespace synthetic = data::synthetic;

struct TrainOptions {
  train::TeacherTraining settings;
  std::string out;
  std::string checkpoint_dir;
  int64_t checkpoint_every = 200;
  int64_t validation_problems = 500;
  int64_t log_every = 50;
  int64_t stop_after = 0;
  int threads = 1;  // a model this small trains fastest, and repeatably, on one thread
};

std::string percent(double fraction) {
  char text[16];
  std::snprintf(text, sizeof text, "%.1f%%", 100 * fraction);
  return text;
}

double greedy_accuracy(model::CausalLMImpl& model, const infer::TaskAnswers& task) {
  const auto correct = infer::answers_correct(model, task);
  return std::accumulate(correct.begin(), correct.end(), 0.0) / static_cast<double>(correct.size());
}

// Teacher-forced figures show what the model knows given the gold trace; the
// greedy ones what stage evaluations and LOO measure: it must write the trace itself.
void report_accuracy(const std::filesystem::path& out, const TrainOptions& options) {
  const auto problems = synthetic::generate_split(options.settings.task, synthetic::Split::Validation,
                                                  static_cast<std::size_t>(options.validation_problems));
  data::SequenceSpec spec;  // the same validation problems, as prompts to generate from
  spec.samples = options.validation_problems;
  spec.task = options.settings.task;
  const auto sequences = train::load_sequences(spec, synthetic::kVocabSize);
  const auto task = infer::task_answers(sequences.prompts, sequences.answers, sequences.loss_mask, 0, sequences.size());
  auto teacher = model::load_causal_lm(out);
  const auto full = train::teacher_forced_accuracy(*teacher, problems);
  const double greedy = greedy_accuracy(*teacher, task);
  std::printf(
      "validation   %lld problems, answer accuracy: greedy %s, teacher-forced %s; completion token accuracy %s\n",
      static_cast<long long>(full.problems), percent(greedy).c_str(), percent(full.answer_accuracy()).c_str(),
      percent(full.token_accuracy()).c_str());
  std::printf(
      "without the attention of one layer:\n"
      "layer  greedy answer accuracy (drop)  teacher-forced (drop)  completion token accuracy (drop)\n");
  const int64_t layers = options.settings.shape.layers;
  for (int64_t layer = 0; layer < layers; ++layer) {
    std::string letters(static_cast<std::size_t>(layers), 'A');
    letters[static_cast<std::size_t>(layer)] = 'I';
    auto ablated =
        model::load_causal_lm(out, {at::kFloat, at::kCPU, model::Layout::parse(letters, layers, "ablation")});
    const auto accuracy = train::teacher_forced_accuracy(*ablated, problems);
    const double ablated_greedy = greedy_accuracy(*ablated, task);
    std::printf("%5lld  %6s (%6s)                %6s (%6s)        %6s (%6s)\n", static_cast<long long>(layer),
                percent(ablated_greedy).c_str(), percent(greedy - ablated_greedy).c_str(),
                percent(accuracy.answer_accuracy()).c_str(),
                percent(full.answer_accuracy() - accuracy.answer_accuracy()).c_str(),
                percent(accuracy.token_accuracy()).c_str(),
                percent(full.token_accuracy() - accuracy.token_accuracy()).c_str());
  }
}

void run_train(TrainOptions options) {
  if (options.threads > 0) at::set_num_threads(options.threads);
  const std::filesystem::path out(options.out);
  train::TrainingRun run;
  run.checkpoint_dir = options.checkpoint_dir.empty() ? std::filesystem::path(out.string() + ".checkpoints")
                                                      : std::filesystem::path(options.checkpoint_dir);
  run.checkpoint_every = options.checkpoint_every;
  if (options.stop_after > 0) run.stop_after = options.stop_after;
  options.settings.validate();

  std::optional<ProgressReporter> progress;
  auto began = std::chrono::steady_clock::now();
  int64_t tokens = 0;
  run.on_begin = [&](int64_t first_step) {
    // A resumed run's rate and ETA count from where it resumed.
    progress.emplace("train", first_step, options.settings.steps, ProgressReporter::stderr_is_terminal(),
                     options.log_every);
    began = std::chrono::steady_clock::now();
  };
  run.on_step = [&](const train::StepProgress& step) {
    tokens += step.tokens;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    char details[96];
    std::snprintf(details, sizeof details, "loss %.4f | %s tok/s%s", step.loss,
                  format_count(static_cast<int64_t>(tokens / std::max(seconds, 1e-9))).c_str(),
                  step.applied ? "" : " | step skipped (non-finite)");
    progress->update(step.step, details);
  };
  auto teacher = train::train_teacher(options.settings, run);
  if (progress) progress->finish();
  if (run.stop_after && *run.stop_after < options.settings.steps) {
    std::printf("stopped after step %lld; checkpoint in %s (run the same command without --stop-after to resume)\n",
                static_cast<long long>(*run.stop_after), run.checkpoint_dir.c_str());
    return;
  }
  model::save_causal_lm(*teacher, out);
  const auto counts = model::count_parameters(*teacher);
  std::printf("teacher      %s: %s parameters, layout %s\n", out.c_str(), format_count(counts.total()).c_str(),
              teacher->layout.to_string().c_str());
  report_accuracy(out, options);
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto options = std::make_shared<TrainOptions>();
  auto& s = options->settings;
  auto* command = app.add_subcommand("train",
                                     "Train a small Llama-family teacher from scratch on the built-in "
                                     "synthetic reasoning task (resumable)");
  command->add_option("--out", options->out, "Directory for the trained teacher (config.json + model.safetensors)")
      ->required();
  command->add_option("--checkpoint-dir", options->checkpoint_dir,
                      "Where checkpoints go and a run resumes from (default: OUT.checkpoints)");
  command->add_option("--checkpoint-every", options->checkpoint_every, "Steps between checkpoints")
      ->check(at_least(1))
      ->capture_default_str();
  command->add_option("--layers", s.shape.layers, "Decoder layers")->check(at_least(1))->capture_default_str();
  command->add_option("--hidden", s.shape.hidden, "Hidden size")->check(at_least(1))->capture_default_str();
  command->add_option("--heads", s.shape.heads, "Attention heads")->check(at_least(1))->capture_default_str();
  command->add_option("--kv-heads", s.shape.kv_heads, "Key/value heads (GQA)")
      ->check(at_least(1))
      ->capture_default_str();
  command->add_option("--intermediate", s.shape.intermediate, "MLP intermediate size")
      ->check(at_least(1))
      ->capture_default_str();
  command->add_option("--steps", s.steps, "Optimizer steps")->check(at_least(1))->capture_default_str();
  command->add_option("--batch", s.batch, "Problems per micro-batch")->check(at_least(1))->capture_default_str();
  command->add_option("--accumulation", s.accumulation, "Micro-batches per optimizer step")
      ->check(at_least(1))
      ->capture_default_str();
  command->add_option("--lr", s.learning_rate, "Peak learning rate")->check(positive_real())->capture_default_str();
  command->add_option("--min-lr", s.min_learning_rate, "Learning rate at the end of the cosine decay")
      ->check(non_negative_real())
      ->capture_default_str();
  command->add_option("--warmup", s.warmup_steps, "Linear warm-up steps")->check(at_least(0))->capture_default_str();
  command->add_option("--weight-decay", s.weight_decay, "AdamW weight decay")
      ->check(non_negative_real())
      ->capture_default_str();
  command->add_option("--clip", s.max_grad_norm, "Clip gradients to this global norm (0: off)")
      ->check(non_negative_real())
      ->capture_default_str();
  command->add_option("--seed", s.seed, "Seed of the weights and the data order")->capture_default_str();
  command->add_option("--train-problems", s.train_problems, "Distinct training problems")
      ->check(at_least(1))
      ->capture_default_str();
  command->add_option("--validation-problems", options->validation_problems, "Validation problems evaluated at the end")
      ->check(at_least(1))
      ->capture_default_str();
  add_task_options(command, s.task);
  command->add_option("--log-every", options->log_every, "Steps between progress lines when not on a terminal")
      ->check(at_least(1))
      ->capture_default_str();
  command->add_option("--threads", options->threads, "CPU threads (0: LibTorch's default)")
      ->check(at_least(0))
      ->capture_default_str();
  command
      ->add_option("--stop-after", options->stop_after,
                   "Stop after this step with a checkpoint, as an interrupted run would (0: run to the end)")
      ->check(at_least(0));
  command->callback([options] {
    refuse_job("train");
    run_train(*options);
  });
}

}  // namespace hybridize::cli
