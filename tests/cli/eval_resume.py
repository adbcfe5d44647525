"""Kills `hybridize eval` with SIGKILL in the middle of a sampled evaluation,
resumes it with the same --db, and checks that only the generations the store
lacked were made again and that every generation equals an uninterrupted run's
(each draws from its own seeded stream, whatever ran beside it).

usage: eval_resume.py HYBRIDIZE CONFIGS_DIR WORK_DIR
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys

from job_support import ENV, fail as fail_test, kill_midway

binary, configs, work = sys.argv[1:4]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
SAMPLES = 2

# The demo's benchmark ten times over under other ids: enough generations, one at a time, to kill midway.
problems = [json.loads(line) for line in open(os.path.join(configs, "demo-tasks.jsonl"))]
tasks = os.path.join(work, "tasks.jsonl")
with open(tasks, "w") as out:
    for copy in range(10):
        for i, problem in enumerate(problems):
            out.write(json.dumps(dict(problem, id=f"{copy}-{i}")) + "\n")
GENERATIONS = 10 * len(problems) * SAMPLES


def command(db, batch):
    return [binary, "eval", "--db", db, "--model", os.path.join(configs, "demo-teacher"), "--tasks", tasks,
            "--device", "cpu", "--dtype", "fp32", "--samples", str(SAMPLES), "--temperature", "0.8", "--seed", "7",
            "--max-new-tokens", "48", "--max-batch", str(batch), "--json"]


def stored(db, query="SELECT COUNT(*) FROM eval_samples"):
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as connection:
            return connection.execute(query).fetchall()
    except sqlite3.Error:  # not created yet
        return [(0,)]


def generations(db):
    return stored(db, "SELECT problem, sample, outcome, extracted, completion FROM eval_samples ORDER BY problem, sample")


def fail(message):
    fail_test("eval_resume", message)


def evaluate(db, batch):
    result = subprocess.run(command(db, batch), capture_output=True, text=True, env=ENV)
    if result.returncode != 0:
        fail(f"{' '.join(command(db, batch))}\n{result.stderr}")
    return json.loads(result.stdout)[0]


whole_db = os.path.join(work, "whole.db")
whole = evaluate(whole_db, 16)
if whole["generations"] != GENERATIONS or whole["generated_now"] != GENERATIONS:
    fail(f"the uninterrupted run made {whole['generated_now']} of {GENERATIONS} generations")

killed_db = os.path.join(work, "killed.db")
kill_midway("eval_resume", command(killed_db, 1), lambda: stored(killed_db)[0][0] >= 128, 120, env=ENV)
done_at_kill = stored(killed_db)[0][0]
if not 128 <= done_at_kill < GENERATIONS:
    fail(f"{done_at_kill} of {GENERATIONS} generations were stored when the run was killed")

resumed = evaluate(killed_db, 1)
if resumed["generated_now"] != GENERATIONS - done_at_kill:
    fail(f"the resumed run made {resumed['generated_now']} generations; {GENERATIONS - done_at_kill} were missing")
if generations(killed_db) != generations(whole_db):
    fail("the resumed evaluation's generations differ from the uninterrupted run's (at batch 16)")
if resumed["pass_at_1"] != whole["pass_at_1"]:
    fail(f"pass@1 {resumed['pass_at_1']} after resuming, {whole['pass_at_1']} uninterrupted")
print(f"eval_resume: killed after {done_at_kill}/{GENERATIONS} generations; the resumed run made the "
      f"{resumed['generated_now']} missing; every generation equals the uninterrupted run's; pass@1 {whole['pass_at_1']:.3f}")
