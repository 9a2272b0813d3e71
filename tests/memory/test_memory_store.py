"""ExperienceMemory behaves the same embedded and against a `chroma run` server."""

import http.server
import json
import re
import threading

import pytest

from evolver.memory import ExperienceMemory, MemoryStats
from evolver.memory.records import to_dict


def test_every_record_kind_round_trips_exactly(memory, make):
    trajectory = make.trajectory(judged=True, judge_rationale="It reached the goal.", policy="default")
    reflection = make.reflection(trajectory)
    insight = make.insight()

    assert memory.add([trajectory, reflection, insight]) == 3

    assert memory.get(trajectory.id) == trajectory
    assert memory.get(reflection.id) == reflection
    assert memory.get(insight.id) == insight
    assert memory.get("traj-run-a-g000-train-e09999") is None


def test_unicode_and_a_long_trajectory_round_trip(memory, make):
    observation = 'Ein Zimmer — 部屋 🚪 «porte» \\ "quoted" \n tab\t ' * 40  # about 2,000 characters
    trajectory = make.trajectory(steps=300, observation=observation, task="Öffne die Tür 🔑", error="boom ✗")

    memory.add([trajectory])

    assert memory.get(trajectory.id) == trajectory
    assert len(json.dumps(to_dict(trajectory))) > 600_000


def test_rewriting_the_same_records_is_an_upsert(memory, make):
    batch = [make.trajectory(i) for i in range(4)] + [make.insight()]

    memory.add(batch)
    memory.add(batch)
    memory.add([make.trajectory(0, success=False)])

    assert memory.count() == 5
    assert memory.get(make.trajectory(0).id).success is False


@pytest.mark.slow
def test_search_finds_tasks_by_meaning(semantic_memory, make):
    memory = semantic_memory
    tasks = [
        "Unlock the door with the brass key and go through.",
        "Cook the apple in the oven.",
        "Reach the goal without falling into a hole.",
        "Pick up the blue ball.",
    ]
    memory.add([make.trajectory(i, task) for i, task in enumerate(tasks)])

    hits = memory.search("open the locked door", k=2)

    assert hits[0].record.task == tasks[0]
    assert len(hits) == 2
    assert hits[0].distance <= hits[1].distance
    assert hits[0].score == pytest.approx(1 - hits[0].distance)


@pytest.mark.slow
def test_search_reflections_and_insights_by_their_text(semantic_memory, make):
    memory = semantic_memory
    trajectory = make.trajectory()
    memory.add([make.reflection(trajectory, "Avoid the holes on the frozen lake."), make.insight()])

    [reflection] = memory.search("falling through the ice", kind="reflection")
    [insight] = memory.search("keys and doors", kind="insight")

    assert reflection.record.text == "Avoid the holes on the frozen lake."
    assert insight.record.text == make.insight().text


@pytest.mark.parametrize(
    ("where", "expected_episodes"),
    [
        ({"success": True}, [0, 2, 4]),
        ({"success": False, "env_id": "evolver/Door-v0"}, [1, 3]),
        ({"env_id": "evolver/Lake-v0"}, [5]),
        ({"generation": {"$gte": 1}}, [2, 3, 4, 5]),
        ({"total_return": {"$gte": 0.5, "$lte": 1}}, [0, 2, 4]),
        ({"generation": {"$in": [0, 2]}}, [0, 1, 4, 5]),
        ({"$or": [{"generation": 0}, {"env_id": "evolver/Lake-v0"}]}, [0, 1, 5]),
        ({"split": "heldout"}, [5]),
        ({}, [0, 1, 2, 3, 4, 5]),
    ],
)
def test_filters_select_trajectories(memory, make, where, expected_episodes):
    memory.add(
        [make.trajectory(i, success=i % 2 == 0, generation=i // 2) for i in range(5)]
        + [make.trajectory(5, env_id="evolver/Lake-v0", generation=2, split="heldout", success=False)]
    )

    found = memory.trajectories(where)
    hits = memory.search("door", k=10, where=where)

    assert sorted(t.episode for t in found) == expected_episodes
    assert sorted(h.record.episode for h in hits) == expected_episodes
    assert memory.count("trajectory", where) == len(expected_episodes)


def test_trajectories_are_ordered_by_id_and_limited(memory, make):
    memory.add([make.trajectory(i, generation=g) for g, i in [(2, 0), (0, 7), (1, 3), (0, 1)]])

    assert [t.id for t in memory.trajectories()] == [
        "traj-run-a-g000-train-e00001",
        "traj-run-a-g000-train-e00007",
        "traj-run-a-g001-train-e00003",
        "traj-run-a-g002-train-e00000",
    ]
    assert [t.episode for t in memory.trajectories(limit=2)] == [1, 7]


def test_count_stats_and_delete_run(memory, make):
    kept = [make.trajectory(i, run_id="run-b", success=i == 0, generation=i) for i in range(3)]
    kept.append(
        make.trajectory(3, run_id="run-b", success=False, error="env crashed", env_id="evolver/Lake-v0")
    )
    deleted = [make.trajectory(i) for i in range(2)]
    memory.add(kept + deleted + [make.reflection(deleted[0]), make.insight(), make.insight(run_id="run-b")])

    assert memory.count() == 9
    assert memory.count(where={"run_id": "run-b"}) == 5
    assert memory.delete_run("run-a") == 4
    assert memory.stats() == MemoryStats(
        kinds={"trajectory": 4, "reflection": 0, "insight": 1},
        envs={"evolver/Door-v0": 3, "evolver/Lake-v0": 1},
        generations={0: 2, 1: 1, 2: 1},
        outcomes={"error": 1, "failure": 2, "success": 1},
    )


def test_jsonl_export_and_import_reproduce_the_store(open_memory, make, tmp_path):
    source = open_memory()
    trajectory = make.trajectory(task="Öffne die Tür")
    source.add([trajectory, make.trajectory(1), make.reflection(trajectory), make.insight()])
    exported = tmp_path / "memory.jsonl"

    assert source.export_jsonl(exported) == 4
    before = source.records()
    source.delete_run("run-a")
    assert source.import_jsonl(exported) == 4

    assert source.records() == before
    assert len(exported.read_text(encoding="utf-8").splitlines()) == 4


def test_dataset_and_parquet_round_trip(memory, make, tmp_path):
    from datasets import Dataset

    trajectory = make.trajectory(steps=5)
    memory.add([trajectory, make.reflection(trajectory), make.insight()])
    before = memory.records()

    dataset = memory.to_dataset()
    dataset.to_parquet(str(tmp_path / "memory.parquet"))
    memory.delete_run("run-a")
    memory.import_dataset(Dataset.from_parquet(str(tmp_path / "memory.parquet")))

    assert dataset["kind"] == ["trajectory", "reflection", "insight"]
    assert memory.records() == before


def test_a_batch_write_that_fails_half_way_can_be_rerun(open_memory, make):
    calls = []

    def flaky_embeddings(texts):
        calls.append(len(texts))
        if len(calls) == 2:
            raise RuntimeError("embedding service went away")
        return [[1.0, float(len(text)), 0.5] for text in texts]

    memory = open_memory(embedding_function=flaky_embeddings, batch_size=2)
    batch = [make.trajectory(i) for i in range(5)]

    with pytest.raises(RuntimeError, match="went away"):
        memory.add(batch)
    assert memory.count() == 2  # the first batch landed, the store is readable
    memory.add(batch)

    assert memory.count() == 5
    assert [t.episode for t in memory.trajectories()] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda m: m.search("door", where={"sucess": True}),
            ValueError,
            "Unknown filter field `sucess` for trajectory records. Did you mean `success`? Filterable fields: ",
        ),
        (
            lambda m: m.search("door", where={"success": "yes"}),
            ValueError,
            "Expected `success` to be bool, got 'yes' (str).",
        ),
        (
            lambda m: m.search("door", where={"generation": 1.5}),
            ValueError,
            "Expected `generation` to be int, got 1.5 (float).",
        ),
        (
            lambda m: m.search("door", where={"env_id": {"$gte": "a"}}),
            ValueError,
            "Expected a numeric field for `$gte`, got `env_id` (str).",
        ),
        (
            lambda m: m.search("door", where={"total_return": {"$gt3": 1}}),
            ValueError,
            "Unknown operator `$gt3` on `total_return`. Did you mean `$gt`?",
        ),
        (lambda m: m.search("door", where=[("success", True)]), TypeError, "Expected `where` to be a dict"),
        (lambda m: m.search("  "), ValueError, "Expected `text` to be a non-empty query, got '  '."),
        (lambda m: m.search("door", k=0), ValueError, "Expected `k` to be a positive int, got 0."),
        (
            lambda m: m.search("door", kind="trajectories"),
            ValueError,
            "Unknown kind `trajectories`. Did you mean `trajectory`?",
        ),
        (
            lambda m: m.search("door", kind="insight", where={"success": True}),
            ValueError,
            "Unknown filter field `success` for insight records.",
        ),
        (lambda m: m.get("episode-3"), ValueError, "Expected a record id starting with traj-, refl-, ins-"),
        (
            lambda m: m.add(["not a record"]),
            TypeError,
            "Expected a Trajectory, Reflection or Insight, got str.",
        ),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(memory, make, call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call(memory)
    with pytest.raises(TypeError):
        memory.add([make.trajectory(0), object()])

    assert memory.count() == 0


def test_exactly_one_of_path_and_url(tmp_path):
    message = "Expected exactly one of `path` (an embedded store) or `url` (a Chroma server)"
    with pytest.raises(ValueError, match=re.escape(message)):
        ExperienceMemory()
    with pytest.raises(ValueError, match=re.escape(message)):
        ExperienceMemory(tmp_path, url="http://localhost:8000")
    with pytest.raises(ValueError, match=re.escape("Expected `url` like 'http://localhost:8000'")):
        ExperienceMemory(url="localhost:8000")


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        (None, "The collection `evolver-trajectories` in ExperienceMemory(url="),
        ({"evolver_schema": 99}, "has schema version 99, newer than this evolver reads (1). Upgrade evolver"),
    ],
)
def test_a_server_collection_of_another_tool_or_newer_schema_is_refused(chroma_url, metadata, message):
    import chromadb

    client = chromadb.HttpClient(host="127.0.0.1", port=int(chroma_url.rsplit(":", 1)[1]))
    foreign = client.create_collection("evolver-trajectories", metadata=metadata, embedding_function=None)
    foreign.add(ids=["x"], embeddings=[[1.0, 2.0]])
    try:
        with pytest.raises(ValueError, match=re.escape(message)):
            ExperienceMemory(url=chroma_url, embedding_function=lambda texts: [[1.0, 2.0] for _ in texts])
        assert client.get_collection("evolver-trajectories").count() == 1
    finally:
        for collection in client.list_collections():
            client.delete_collection(collection.name)


def test_the_token_is_sent_as_a_bearer_header():
    seen = []

    class Refuse(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.headers.get("Authorization"))
            self.send_response(401)
            self.end_headers()

        do_POST = do_GET

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(Exception):  # noqa: B017 - the refusing server's error, whichever Chroma raises
            ExperienceMemory(url=f"http://127.0.0.1:{server.server_port}", token="s3cret")
    finally:
        server.shutdown()
        server.server_close()

    assert seen and set(seen) == {"Bearer s3cret"}
