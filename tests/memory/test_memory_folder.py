"""An embedded memory's folder: persistence across processes, schema refusal, the single-writer lock."""

import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

from evolver.memory import ExperienceMemory, MemoryLockedError

EMBEDDINGS = "lambda texts: [[1.0, float(len(t)), 0.5] for t in texts]"


def _python(code: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], text=True, **kwargs)


def _embedded(path) -> ExperienceMemory:
    return ExperienceMemory(path, embedding_function=lambda texts: [[1.0, float(len(t)), 0.5] for t in texts])


@pytest.mark.slow
def test_what_one_process_writes_another_reads(tmp_path):
    writer = f"""
        from evolver.memory import ExperienceMemory, Step, Trajectory
        steps = tuple(Step("Dunkel 🌙", ("go",), "go", 0.5) for _ in range(3))
        trajectory = Trajectory("evolver/Door-v0", "Öffne die Tür", 1, steps, True, "run-a", 0, 7, created_at=1.5)
        with ExperienceMemory({str(tmp_path)!r}, embedding_function={EMBEDDINGS}) as memory:
            memory.add([trajectory])
        print(repr(trajectory))
    """
    reader = f"""
        from evolver.memory import ExperienceMemory
        with ExperienceMemory({str(tmp_path)!r}, embedding_function={EMBEDDINGS}) as memory:
            print(repr(memory.get("traj-run-a-g000-train-e00007")))
    """
    written = _python(writer, stdout=subprocess.PIPE).communicate(timeout=120)[0]
    read = _python(reader, stdout=subprocess.PIPE).communicate(timeout=120)[0]

    assert "Öffne die Tür" in written
    assert read == written


@pytest.mark.slow
def test_a_second_process_is_refused_while_the_first_holds_the_store(tmp_path):
    holder = _python(
        f"""
        import sys
        from evolver.memory import ExperienceMemory
        memory = ExperienceMemory({str(tmp_path)!r}, embedding_function={EMBEDDINGS})
        print("open", flush=True)
        sys.stdin.readline()
        """,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(
            MemoryLockedError, match=re.escape(f"is open in another process (PID {holder.pid})")
        ) as error:
            _embedded(tmp_path)
        assert f"chroma run --path {tmp_path.resolve()}" in str(error.value)
        assert "--url" in str(error.value)
    finally:
        holder.communicate("\n", timeout=60)

    with _embedded(tmp_path) as memory:  # the holder is gone: the lock is free again
        assert memory.count() == 0


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    with _embedded(tmp_path):
        pass
    (tmp_path / "evolver.lock").write_text(dead.stdout)

    with _embedded(tmp_path) as memory:
        assert (tmp_path / "evolver.lock").read_text().strip() == str(os.getpid())
        assert memory.count() == 0


def test_one_process_may_open_its_store_twice(tmp_path):
    first = _embedded(tmp_path)
    with _embedded(tmp_path) as second:
        second.add([])
    assert first.count() == 0
    first.close()
    first.close()


def test_a_newer_schema_is_refused_and_left_untouched(tmp_path):
    marker = tmp_path / "evolver.json"
    marker.write_text(json.dumps({"format": "evolver-memory", "schema_version": 99}))

    with pytest.raises(
        ValueError, match=re.escape("has schema version 99, newer than this evolver reads (1)")
    ):
        _embedded(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evolver.json"]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"chroma.sqlite3": "x"},
            "is not an evolver memory: it has no evolver.json but holds other files (chroma.sqlite3)",
        ),
        ({"evolver.json": '{"format": "other"}'}, "holds an evolver.json of another tool"),
        ({"evolver.json": "not json"}, "is not valid JSON"),
    ],
)
def test_a_folder_of_another_tool_is_refused_and_left_untouched(tmp_path, files, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)

    with pytest.raises(ValueError, match=re.escape(message)):
        _embedded(tmp_path)
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == files


def test_a_new_store_records_its_schema(tmp_path):
    with _embedded(tmp_path / "new" / "memory"):
        pass

    assert json.loads((tmp_path / "new" / "memory" / "evolver.json").read_text()) == {
        "format": "evolver-memory",
        "schema_version": 1,
    }
