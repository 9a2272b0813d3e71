"""Fixtures for the memory tests: a real `chroma run` server on loopback, and a store fixture
that runs each test against an embedded store and against that server."""

import socket
import subprocess
import sys
import time
import urllib.request
import zlib
from pathlib import Path
from types import SimpleNamespace

import pytest

from evolver.memory import ExperienceMemory, Insight, Reflection, Step, Trajectory

CHROMA = Path(sys.executable).parent / "chroma"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def chroma_url(tmp_path_factory):
    """A `chroma run` server on a free loopback port, stopped at the end of the session."""
    port = _free_port()
    folder = tmp_path_factory.mktemp("chroma-server")
    log = (folder / "server.log").open("w")
    server = subprocess.Popen(
        [str(CHROMA), "run", "--path", str(folder / "data"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"`chroma run` did not answer on {url}; see {folder / 'server.log'}.")
            time.sleep(0.2)
    yield url
    server.terminate()
    server.wait(timeout=10)
    log.close()


def _empty_server(url: str) -> None:
    import chromadb

    client = chromadb.HttpClient(host="127.0.0.1", port=int(url.rsplit(":", 1)[1]))
    for collection in client.list_collections():
        client.delete_collection(collection.name)


class HashEmbeddings:
    """A fast, deterministic bag-of-words embedding, for tests where meaning does not matter.

    Any callable from texts to vectors serves as `embedding_function`.
    """

    def __call__(self, input):
        vectors = []
        for text in input:
            vector = [0.0] * 32
            for word in text.lower().split():
                vector[zlib.crc32(word.encode()) % 32] += 1.0
            vector[0] += 0.5  # never the zero vector, which has no cosine
            vectors.append(vector)
        return vectors


@pytest.fixture(params=["embedded", "server"])
def backend(request):
    return request.param


@pytest.fixture
def open_memory(backend, tmp_path, request):
    """Open the test's store: a fresh folder, or the shared server, emptied after the test.

    Hash embeddings unless the test passes `embedding_function`.
    """
    opened = []

    def open_(**kwargs) -> ExperienceMemory:
        kwargs.setdefault("embedding_function", HashEmbeddings())
        if backend == "embedded":
            memory = ExperienceMemory(tmp_path / "memory", **kwargs)
        else:
            memory = ExperienceMemory(url=request.getfixturevalue("chroma_url"), **kwargs)
        opened.append(memory)
        return memory

    yield open_
    for memory in opened:
        memory.close()
    if backend == "server":
        _empty_server(request.getfixturevalue("chroma_url"))


@pytest.fixture
def memory(open_memory):
    """A store with fast hash embeddings."""
    return open_memory()


@pytest.fixture
def semantic_memory(open_memory):
    """A store with the packaged MiniLM embeddings (the default)."""
    from evolver.memory import MiniLMEmbeddings

    return open_memory(embedding_function=MiniLMEmbeddings())


def make_trajectory(
    episode: int = 0,
    task: str = "Open the red door with the key.",
    *,
    steps: int = 3,
    success: bool = True,
    env_id: str = "evolver/Door-v0",
    run_id: str = "run-a",
    generation: int = 0,
    split: str = "train",
    observation: str = "You are in a hall. A red door is to the north.",
    **fields,
) -> Trajectory:
    return Trajectory(
        env_id=env_id,
        task=task,
        seed=episode,
        steps=tuple(
            Step(
                f"{observation} ({i})", ("go north", "open door", "take key"), "open door", 0.0, info={"i": i}
            )
            for i in range(steps)
        ),
        success=success,
        run_id=run_id,
        generation=generation,
        episode=episode,
        split=split,
        total_return=1.0 if success else 0.0,
        created_at=1700000000.0 + episode,
        **fields,
    )


def make_reflection(
    trajectory: Trajectory, text: str = "Take the key before opening the door."
) -> Reflection:
    return Reflection(
        trajectory_id=trajectory.id,
        env_id=trajectory.env_id,
        task=trajectory.task,
        text=text,
        success=trajectory.success,
        run_id=trajectory.run_id,
        generation=trajectory.generation,
        created_at=1700000000.5,
    )


def make_insight(
    text: str = "Locked doors open with a key from the same room.", run_id: str = "run-a"
) -> Insight:
    return Insight(
        env_id="evolver/Door-v0",
        text=text,
        source_ids=("traj-run-a-g000-train-e00000",),
        run_id=run_id,
        generation=0,
        created_at=1700000001.0,
    )


@pytest.fixture
def make():
    """Record factories with fixed timestamps, so equal arguments give equal records."""
    return SimpleNamespace(trajectory=make_trajectory, reflection=make_reflection, insight=make_insight)
