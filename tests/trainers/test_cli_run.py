"""`evolver` exactly as a user runs it: a tiny run, its report, evaluation, memory stats, misuse, kill -9."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

TINY = """\
generations: 1
episodes_per_generation: 16
heldout_episodes: 8
envs_per_batch: 8
epochs: 1
batch_size: 16
"""


def evolver(*args, cwd, check=True):
    bin_dir = Path(sys.executable).parent
    result = subprocess.run(
        [str(bin_dir / "evolver"), *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"evolver {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result


@pytest.mark.slow
def test_run_report_eval_and_memory_from_the_command_line(tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY)

    run = evolver("run", "--config", "tiny.yaml", "--name", "smoke", cwd=tmp_path)

    assert "Report: runs/smoke/report/report.html" in run.stdout.replace("\n", "")
    lines = [json.loads(line) for line in (tmp_path / "runs/smoke/metrics.jsonl").read_text().splitlines()]
    assert [line["generation"] for line in lines] == [0, 1]
    assert "Report:" in evolver("report", "runs/smoke", cwd=tmp_path).stdout
    result = json.loads(evolver("eval", "runs/smoke", "--seeds", "0-3", "--json", cwd=tmp_path).stdout)
    assert result["episodes"] == 4 and 0.0 <= result["success"] <= 1.0
    stats = json.loads(evolver("memory", "stats", "--run", "runs/smoke", "--json", cwd=tmp_path).stdout)
    assert stats["kinds"]["trajectory"] == 16 + 8 * (1 + lines[1]["evaluated"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--generations", "-1"], "Expected `generations` to be at least 0, got -1."),
        (["run", "--method", "sdf"], "Expected `method` to be one of"),
        (["run", "--env", "frozenlake-4x5"], "frozenlake-4x4"),
        (["run", "--resume", "nowhere"], "is not an evolver run folder"),
        (["run", "--config", "missing.yaml"], "does not exist"),
        (["report", "nowhere"], "has no metrics.jsonl"),
    ],
)
def test_misuse_exits_2_with_a_message_that_says_what_to_do(tmp_path, args, message):
    result = evolver(*args, cwd=tmp_path, check=False)

    assert result.returncode == 2
    assert message in " ".join(result.stderr.split())
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_help_teaches_by_example(tmp_path):
    out = evolver("run", "--help", cwd=tmp_path).stdout

    assert "evolver run --resume" in out and "--episodes" in out


@pytest.mark.slow
def test_a_run_killed_with_sigkill_resumes_to_the_same_counts(tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY.replace("generations: 1", "generations: 2"))
    bin_dir = Path(sys.executable).parent
    process = subprocess.Popen(
        [str(bin_dir / "evolver"), "run", "--config", "tiny.yaml", "--name", "killed"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ,
    )  # fmt: skip
    metrics = tmp_path / "runs/killed/metrics.jsonl"
    deadline = time.time() + 300
    while time.time() < deadline and not (metrics.exists() and metrics.read_text().count("\n") >= 2):
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)  # in generation 2, after generation 1 finished
    process.wait()

    evolver("run", "--resume", "runs/killed", cwd=tmp_path)

    lines = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert [line["generation"] for line in lines] == [0, 1, 2]
    stats = json.loads(evolver("memory", "stats", "--run", "runs/killed", "--json", cwd=tmp_path).stdout)
    evaluations = 1 + sum(line["evaluated"] for line in lines[1:])
    assert stats["kinds"]["trajectory"] == 2 * 16 + evaluations * 8
