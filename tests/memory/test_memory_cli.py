"""`evolver memory` as a user types it (the sub-app, run in-process)."""

import json

import pytest
from typer.testing import CliRunner

from evolver.memory import ExperienceMemory
from evolver.memory.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run folder whose memory holds four door and lake episodes, a reflection and an insight."""
    from evolver.memory import MiniLMEmbeddings, Reflection, Step, Trajectory

    run = tmp_path_factory.mktemp("run")
    tasks = [
        "Unlock the door with the key.",
        "Cross the frozen lake.",
        "Open the wooden door.",
        "Cross the ice.",
    ]
    trajectories = [
        Trajectory(
            env_id="evolver/Door-v0" if "oor" in task else "evolver/Lake-v0",
            task=task,
            seed=i,
            steps=(Step("A hall.", ("north", "open door"), "open door", 1.0),),
            success=i < 2,
            run_id="demo",
            generation=i // 2,
            episode=i,
            created_at=float(i),
        )
        for i, task in enumerate(tasks)
    ]
    reflection = Reflection(
        trajectories[2].id, "evolver/Door-v0", tasks[2], "Find the key first.", False, "demo", 1
    )
    with ExperienceMemory(run / "memory", embedding_function=MiniLMEmbeddings()) as memory:
        memory.add([*trajectories, reflection])
    return run


def invoke(*args):
    return runner.invoke(app, [str(arg) for arg in args], env={"COLUMNS": "200"})


@pytest.mark.slow
def test_query_finds_by_meaning_and_filters(run_dir):
    result = invoke("query", "open a locked door", "--run", run_dir, "--success", "--k", 3, "--json")

    hits = json.loads(result.output)
    assert result.exit_code == 0
    assert [hit["record"]["task"] for hit in hits] == [
        "Unlock the door with the key.",
        "Cross the frozen lake.",
    ]
    assert hits[0]["score"] >= hits[1]["score"]


@pytest.mark.slow
def test_query_prints_a_table_of_reflections(run_dir):
    result = invoke("query", "what to do before a door", "--run", run_dir, "--kind", "reflection")

    assert result.exit_code == 0
    assert "Find the key first." in result.output
    assert "refl-demo-g001-train-e00002" in result.output


def test_stats_counts_by_kind_env_generation_and_outcome(run_dir):
    result = invoke("stats", "--path", run_dir / "memory", "--json")

    assert result.exit_code == 0
    assert json.loads(result.output) == {
        "kinds": {"trajectory": 4, "reflection": 1, "insight": 0},
        "envs": {"evolver/Door-v0": 2, "evolver/Lake-v0": 2},
        "generations": {"0": 2, "1": 2},
        "outcomes": {"failure": 2, "success": 2},
    }
    table = invoke("stats", "--run", run_dir)
    assert table.exit_code == 0
    assert "trajectories by outcome" in table.output


@pytest.mark.slow
@pytest.mark.parametrize("suffix", ["jsonl", "parquet"])
def test_export_then_import_reproduces_the_records(run_dir, tmp_path, suffix):
    exported = tmp_path / f"memory.{suffix}"

    out = invoke("export", "--run", run_dir, "--out", exported)
    into = invoke("import", exported, "--path", tmp_path / "copy")

    assert out.exit_code == 0 and into.exit_code == 0, out.output + into.output
    assert "Exported 5 records" in out.output
    assert "Imported 5 records" in into.output
    with ExperienceMemory(run_dir / "memory") as source, ExperienceMemory(tmp_path / "copy") as copy:
        assert copy.records() == source.records()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["stats"], "Expected exactly one of --run RUN_DIR, --path DIR or --url URL, got none."),
        (["stats", "--run", "RUN", "--url", "http://localhost:1"], "got --run, --url."),
        (["stats", "--path", "MISSING"], "No evolver memory at MISSING."),
        (
            ["query", "door", "--run", "RUN", "--kind", "insight", "--success"],
            "Unknown filter field `success`",
        ),
        (["query", "door", "--run", "RUN", "--kind", "trajectories"], "Did you mean `trajectory`?"),
        (["query", "door", "--run", "RUN", "--k", "0"], "Invalid value for '--k'"),
        (
            ["export", "--run", "RUN", "--out", "x.csv", "--format", "csv"],
            "Expected jsonl or parquet, got 'csv'.",
        ),
    ],
)
def test_misuse_exits_2_and_says_what_to_do(run_dir, tmp_path, args, message):
    result = invoke(
        *[str(run_dir) if arg == "RUN" else str(tmp_path / arg) if arg == "MISSING" else arg for arg in args]
    )

    assert result.exit_code == 2
    assert message.replace("MISSING", str(tmp_path / "MISSING")) in " ".join(result.output.split()).replace(
        "│", ""
    )


def test_help_teaches_by_example():
    result = invoke("--help")

    assert result.exit_code == 0
    assert 'evolver memory query "open the locked door" --run runs/demo --success --k 3' in result.output
