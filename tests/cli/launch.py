"""Starts N copies of a command as the ranks of one job, the way torchrun does:
RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR=127.0.0.1 and a free
MASTER_PORT in each one's environment. Waits for all; when one fails, the others
are stopped and the launcher exits with the failed rank's status.

usage: launch.py [--timeout SECONDS] N COMMAND [ARGS...]
"""
import os
import signal
import socket
import subprocess
import sys
import time


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop(processes):
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.time() + 10
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main(argv):
    timeout = 600.0
    if argv[:1] == ["--timeout"]:
        timeout, argv = float(argv[1]), argv[2:]
    if len(argv) < 2 or not argv[0].isdigit() or int(argv[0]) < 1:
        sys.exit(__doc__)
    ranks, command = int(argv[0]), argv[1:]
    port = free_port()
    processes = []
    for rank in range(ranks):
        env = dict(os.environ, RANK=str(rank), WORLD_SIZE=str(ranks), LOCAL_RANK=str(rank),
                   LOCAL_WORLD_SIZE=str(ranks), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        processes.append(subprocess.Popen(command, env=env))
    deadline = time.time() + timeout
    while True:
        codes = [process.poll() for process in processes]
        failed = [(rank, code) for rank, code in enumerate(codes) if code not in (None, 0)]
        if failed:
            stop(processes)
            rank, code = failed[0]
            print(f"launch: rank {rank} of {ranks} exited with status {code}", file=sys.stderr)
            sys.exit(code if code > 0 else 1)
        if all(code == 0 for code in codes):
            return
        if time.time() > deadline:
            stop(processes)
            print(f"launch: the {ranks} ranks did not finish within {timeout:g} s", file=sys.stderr)
            sys.exit(124)
        time.sleep(0.05)


if __name__ == "__main__":
    main(sys.argv[1:])
