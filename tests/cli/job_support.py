"""What the CLI tests share: running a command (alone, or as the ranks of a job
through launch.py) and failing the test with a message or the command's output."""
import os
import signal
import subprocess
import sys
import time

LAUNCH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "launch.py")
# One thread a rank (2 cores in CI), and a peer that dies fails the job within 2 minutes.
ENV = dict(os.environ, OMP_NUM_THREADS="1", HYBRIDIZE_DIST_TIMEOUT="120")


def fail(test, message):
    print(f"{test}: FAIL: {message}")
    sys.exit(1)


def completed(test, command, ranks=1):
    """`command` run alone or as `ranks` ranks, finished; exits the test on failure."""
    if ranks > 1:
        command = [sys.executable, LAUNCH, "--timeout", "300", str(ranks), *command]
    result = subprocess.run(command, capture_output=True, text=True, env=ENV)
    if result.returncode != 0:
        fail(test, f"{' '.join(command)}\n{result.stdout}{result.stderr}")
    return result


def kill_midway(test, command, reached, timeout, env=None):
    """Starts `command` and kills it with SIGKILL as soon as `reached()` holds. Fails the
    test when the command ends first (it needs more work) or `timeout` seconds pass."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + timeout
    while not reached():
        if process.poll() is not None:
            fail(test, "the command ended before it could be killed; give it more work")
        if time.time() > deadline:
            process.kill()
            fail(test, f"not killed within {timeout} s: it made too little progress")
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait()


def run(test, command, ranks=1):
    """stdout of `command`, run alone or as `ranks` ranks; exits the test on failure."""
    return completed(test, command, ranks).stdout
