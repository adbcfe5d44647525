"""Data-parallel distillation against one process: a plan stage of the mistral
reference is distilled by `hybridize distill` alone and by 2 ranks on CPU (c10d store,
started by launch.py) with the same global batch, plain and with ZeRO-1 sharded
AdamW moments, and the sharded job once more stopped mid-stage and resumed.

Checks: the 2-rank weights equal the single process's within ATOL (the ranks'
forward passes see 2 rows instead of 4 and their gradient sums add in another
order, so fp32 rounding differs by a few ulps, which AdamW's division by
sqrt(v) can enlarge a little over the steps); sharded equals plain bit for bit
(whole parameters per rank: the same AdamW arithmetic); the resumed job equals
the uninterrupted one bit for bit; the loss curves agree; the trained weights
moved far more than ATOL, so the comparison could fail.

usage: distributed_distill.py HYBRIDIZE MODEL_DIR WORK_DIR
"""
import json
import os
import re
import shutil
import sqlite3
import sys

import torch
from safetensors.torch import load_file

from job_support import run

binary, model_dir, work = sys.argv[1:4]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
ATOL = 2e-5
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print(f"distributed_distill: FAIL: {message}")


planned = os.path.join(work, "planned.db")
run("distributed_distill", [binary, "score", "proxy", "--model", model_dir, "--db", planned, "--samples", "4", "--quiet"])
plan = run("distributed_distill", [binary, "plan", "--db", planned, "--targets", "1", "--strategy", "uniform", "--d-state", "8"])
plan_id = re.search(r"^plan (\d+):", plan, re.M).group(1)


def distill(name, ranks, *extra):
    db = os.path.join(work, name + ".db")
    if not os.path.exists(db):
        shutil.copy(planned, db)
    command = [binary, "distill", "--db", db, "--plan", plan_id, "--out", os.path.join(work, name), "--steps", "8",
               "--batch", "4", "--accumulation", "2", "--train", "all", "--lr", "3e-3", "--warmup", "2",
               "--train-samples", "24", "--eval-samples", "4", "--d-state", "8", "--checkpoint-every", "3", "--json", "--quiet",
               *extra]
    return run("distributed_distill", command, ranks)


def weights(name):
    return load_file(os.path.join(work, name, f"plan-{plan_id}", "stage-0", "model", "model.safetensors"))


def curve(name):
    with sqlite3.connect(os.path.join(work, name + ".db")) as connection:
        metrics = connection.execute("SELECT metrics FROM stages WHERE status = 'done'").fetchone()
    return json.loads(metrics[0])["curve"] if metrics else None


single_out = json.loads(distill("single", 1))
distill("plain", 2)
distill("sharded", 2, "--shard-optimizer")
stopped = json.loads(distill("resumed", 2, "--shard-optimizer", "--stop-after", "4"))
check(stopped[0]["status"] == "stopped", f"--stop-after 4 did not stop the stage: {stopped}")
distill("resumed", 2, "--shard-optimizer")

single, plain, sharded, resumed = (weights(name) for name in ("single", "plain", "sharded", "resumed"))
teacher = load_file(os.path.join(model_dir, "model.safetensors"))
moved = max((single[key].float() - teacher[key].float()).abs().max().item() for key in teacher if key in single)
check(moved > 100 * ATOL, f"training moved the weights by only {moved:.3g}; the comparison proves nothing")
worst = max((single[key] - plain[key]).abs().max().item() for key in single)
print(f"distributed_distill: 2 ranks vs 1 process: max |difference| {worst:.3g} (tolerance {ATOL:g}); "
      f"training moved weights by up to {moved:.3g}")
check(single.keys() == plain.keys(), "the 2-rank model has other tensors")
check(worst <= ATOL, f"2 ranks differ from 1 process by {worst:.3g} > {ATOL:g}")
for key in plain:
    check(torch.equal(plain[key], sharded[key]), f"ZeRO-1 differs from plain data-parallel at {key}")
    check(torch.equal(sharded[key], resumed[key]), f"the stopped and resumed sharded job differs at {key}")
single_curve, plain_curve = curve("single"), curve("plain")
check(single_curve is not None and plain_curve is not None and len(single_curve) == len(plain_curve) == 8,
      f"loss curves missing: {single_curve} {plain_curve}")
if single_curve and plain_curve:
    check(all(abs(a - b) <= 1e-5 * max(1.0, abs(a)) for a, b in zip(single_curve, plain_curve)),
          f"loss curves differ: {single_curve} vs {plain_curve}")
sys.exit(1 if failures else 0)
