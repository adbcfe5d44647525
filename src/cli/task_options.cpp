#include "cli/task_options.h"

namespace hybridize::cli {

void add_task_options(CLI::App* command, data::synthetic::TaskConfig& task) {
  command->add_option("--task-min-steps", task.min_steps, "Synthetic task: fewest assignment steps of a problem")
      ->capture_default_str();
  command->add_option("--task-max-steps", task.max_steps, "Synthetic task: most assignment steps of a problem")
      ->capture_default_str();
  command->add_option("--modulus", task.modulus, "Synthetic task: arithmetic modulus (prime)")->capture_default_str();
  command->add_option("--initial-variables", task.initial_variables, "Synthetic task: variables given values in the question")
      ->capture_default_str();
  command->add_option("--variables", task.variable_count, "Synthetic task: variable names in use")->capture_default_str();
}

}  // namespace hybridize::cli
