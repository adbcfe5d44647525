#include "cli/task_options.h"

#include "cli/option_checks.h"

namespace hybridize::cli {

void add_task_options(CLI::App* command, data::synthetic::TaskConfig& task) {
  command->add_option("--task-min-steps", task.min_steps, "Synthetic task: fewest assignment steps of a problem")
      ->check(at_least(1))
      ->capture_default_str();
  command->add_option("--task-max-steps", task.max_steps, "Synthetic task: most assignment steps of a problem")
      ->check(at_least(1))
      ->capture_default_str();
  command->add_option("--modulus", task.modulus, "Synthetic task: arithmetic modulus (prime)")
      ->check(at_least(2))
      ->capture_default_str();
  command
      ->add_option("--initial-variables", task.initial_variables,
                   "Synthetic task: variables given values in the question")
      ->check(at_least(1))
      ->capture_default_str();
  command->add_option("--variables", task.variable_count, "Synthetic task: variable names in use")
      ->check(at_least(1))
      ->capture_default_str();
}

}  // namespace hybridize::cli
