"""Scoring spread over 2 ranks on CPU (c10d store, started by launch.py) against one
process: LOO (batches dealt to the ranks in turn), proxies, and MMR probes (one
rank per probe). Rank 0 alone writes the store; every stored per-sample value,
summary and MMR loss curve must equal the single process's exactly (each batch
or probe is computed the same way, whatever rank computes it, and the values
travel as exact text).

usage: distributed_score.py HYBRIDIZE MODEL_DIR WORK_DIR
"""
import os
import shutil
import sqlite3
import sys

from job_support import run

binary, model_dir, work = sys.argv[1:4]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
failures = []


def score(db, ranks, scorer):
    command = [binary, "score", scorer, "--model", model_dir, "--db", db, "--samples", "12", "--batch-size", "2",
               "--bootstrap", "200", "--mmr-steps", "6", "--mmr-warmup", "2", "--mmr-train-samples", "8", "--d-state", "8",
               "--quiet"]
    return run("distributed_score", command, ranks)


def stored(db):
    with sqlite3.connect(db) as connection:
        def rows(query):
            return sorted(connection.execute(query).fetchall())
        return {
            "status": rows("SELECT kind, variant, layer, status, samples FROM probes"),
            "samples": rows("SELECT kind, variant, layer, metric, sample, value FROM probe_samples "
                            "JOIN probes ON probes.id = probe_id"),
            "metrics": rows("SELECT kind, variant, layer, metric, value, ci_low, ci_high, probe_metrics.samples "
                            "FROM probe_metrics JOIN probes ON probes.id = probe_id"),
            "curves": rows("SELECT kind, layer, step, loss FROM probe_curves JOIN probes ON probes.id = probe_id"),
        }


single_db, job_db = os.path.join(work, "single.db"), os.path.join(work, "job.db")
outputs = {}
for scorer in ("loo", "proxy", "mmr"):
    score(single_db, 1, scorer)
    outputs[scorer] = score(job_db, 2, scorer)
    if "ranked by" not in outputs[scorer] or outputs[scorer].count("ranked by") != 1:
        failures.append(f"{scorer}: rank 0 alone should print the ranking once:\n{outputs[scorer]}")
single, job = stored(single_db), stored(job_db)
for table in single:
    if not single[table]:
        failures.append(f"the single process stored no {table}")
    if single[table] != job[table]:
        failures.append(f"{table} differ: {len(single[table])} rows alone, {len(job[table])} by 2 ranks; first "
                        f"difference {next((a, b) for a, b in zip(single[table], job[table]) if a != b) if len(single[table]) == len(job[table]) else '-'}")
if not all(row[3] == "done" for row in job["status"]):
    failures.append(f"probes not done after the 2-rank job: {job['status']}")
print(f"distributed_score: {len(job['samples'])} per-sample values, {len(job['metrics'])} summaries, "
      f"{len(job['curves'])} curve points equal between 1 process and 2 ranks" if not failures else "")
for failure in failures:
    print(f"distributed_score: FAIL: {failure}")
sys.exit(1 if failures else 0)
