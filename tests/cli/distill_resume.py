"""Kills `hybridize distill` with SIGKILL in the middle of a stage, runs the
same command again, and checks that the resumed stage ends with weights
bit-identical to an uninterrupted run's (CPU, fixed seed), and that the resumed
run continued from a checkpoint instead of starting over.

usage: distill_resume.py HYBRIDIZE MODEL_DIR WORK_DIR
"""
import json
import os
import re
import shutil
import sys

import torch
from safetensors.torch import load_file

from job_support import ENV, completed, fail as fail_test, kill_midway, run

binary, model_dir, work = sys.argv[1:4]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
STEPS = 400


def fail(message):
    fail_test("distill_resume", message)


planned = os.path.join(work, "planned.db")
run("distill_resume", [binary, "score", "proxy", "--model", model_dir, "--db", planned, "--samples", "4", "--quiet"])
plan = run("distill_resume", [binary, "plan", "--db", planned, "--targets", "1", "--strategy", "uniform", "--d-state", "8"])
plan_id = re.search(r"^plan (\d+):", plan, re.M).group(1)


def command(name):
    db = os.path.join(work, name + ".db")
    if not os.path.exists(db):
        shutil.copy(planned, db)
    return [binary, "distill", "--db", db, "--plan", plan_id, "--out", os.path.join(work, name), "--steps", str(STEPS),
            "--batch", "2", "--train", "all", "--lr", "3e-3", "--warmup", "5", "--train-samples", "16",
            "--eval-samples", "4", "--d-state", "8", "--checkpoint-every", "7", "--json", "--quiet"]


def stage_dir(name):
    return os.path.join(work, name, f"plan-{plan_id}", "stage-0")


def checkpointed_step(name):
    try:
        with open(os.path.join(stage_dir(name), "checkpoints", "latest")) as pointer:
            return int(pointer.read().strip().removeprefix("step-"))
    except (FileNotFoundError, ValueError):
        return 0


run("distill_resume", command("whole"))

# The same environment as every other run (one thread), so the weights can be compared bit for bit.
kill_midway("distill_resume", command("killed"), lambda: checkpointed_step("killed") >= 14, 300, env=ENV)
at_kill = checkpointed_step("killed")
if os.path.exists(os.path.join(stage_dir("killed"), "model", "model.safetensors")):
    fail("the stage had finished when it was killed; raise STEPS")

second = completed("distill_resume", command("killed"))
if f"at step {at_kill}" not in second.stderr:
    fail(f"the resumed run did not continue from step {at_kill}:\n{second.stderr}")
resumed = json.loads(second.stdout)
curve = resumed[0]["metrics"]["curve"]
if len(curve) != STEPS:
    fail(f"the resumed stage's loss curve has {len(curve)} steps, not {STEPS}")

whole, killed = load_file(os.path.join(stage_dir("whole"), "model", "model.safetensors")), \
    load_file(os.path.join(stage_dir("killed"), "model", "model.safetensors"))
if whole.keys() != killed.keys():
    fail("the resumed model has other tensors")
teacher = load_file(os.path.join(model_dir, "model.safetensors"))
moved = max((whole[key].float() - teacher[key].float()).abs().max().item() for key in teacher if key in whole)
if moved < 1e-3:
    fail(f"training moved the weights by only {moved:.3g}; the comparison proves nothing")
different = [key for key in whole if not torch.equal(whole[key], killed[key])]
if different:
    fail(f"the resumed weights differ from the uninterrupted run's at {different[:5]}")
print(f"distill_resume: killed after checkpoint step {at_kill} of {STEPS}; the resumed stage's {len(whole)} tensors "
      f"equal the uninterrupted run's bit for bit (training moved weights by up to {moved:.3g})")
