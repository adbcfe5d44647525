"""Kills `hybridize score loo` with SIGKILL in the middle of a run, resumes it
with the same --db, and checks that the resumed results equal an uninterrupted
run's while only the unfinished samples were recomputed.

usage: score_resume.py HYBRIDIZE MODEL_DIR WORK_DIR
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys

from job_support import fail as fail_test, kill_midway

binary, model_dir, work = sys.argv[1:4]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
SAMPLES = 240


def command(db):
    return [binary, "score", "loo", "--model", model_dir, "--db", db, "--samples", str(SAMPLES),
            "--batch-size", "1", "--bootstrap", "300", "--json", "--quiet"]


def scored_samples(db):
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as connection:
            return connection.execute("SELECT COUNT(DISTINCT sample) FROM probe_samples").fetchone()[0]
    except sqlite3.Error:  # not created yet
        return 0


def fail(message):
    fail_test("score_resume", message)


reference = json.loads(subprocess.run(command(os.path.join(work, "whole.db")), check=True, capture_output=True).stdout)

killed_db = os.path.join(work, "killed.db")
kill_midway("score_resume", command(killed_db), lambda: scored_samples(killed_db) >= 10, 120)
done_at_kill = scored_samples(killed_db)
if not 10 <= done_at_kill < SAMPLES:
    fail(f"{done_at_kill} of {SAMPLES} samples were scored when the run was killed")

resumed = json.loads(subprocess.run(command(killed_db), check=True, capture_output=True).stdout)


def metrics(result):
    return {row["layer"]: row["metrics"] for row in result["ranking"]}


if metrics(resumed) != metrics(reference):
    fail(f"resumed results differ:\n{json.dumps(metrics(resumed), indent=1)}\nvs\n{json.dumps(metrics(reference), indent=1)}")
if resumed["teacher"] != reference["teacher"]:
    fail("the teacher baseline differs after resuming")
# Only the samples left at the kill were recomputed (one batch may have been in flight).
per_sample = reference["layer_forwards"] / SAMPLES
recomputed = resumed["layer_forwards"] / per_sample
if not SAMPLES - done_at_kill <= recomputed <= SAMPLES - done_at_kill + 1:
    fail(f"the resumed run recomputed {recomputed:.0f} samples; {SAMPLES - done_at_kill} were left")
print(f"score_resume: killed after {done_at_kill}/{SAMPLES} samples; resumed run recomputed {recomputed:.0f}; "
      f"results equal the uninterrupted run's")
