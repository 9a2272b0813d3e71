"""What does ExperienceMemory cost over raw Chroma? Insert rate and query latency, side by side.

Both sides write the same trajectories to their own embedded Chroma store, with the same
precomputed vectors, batch for batch in alternation (so machine noise hits both alike). The
raw side is handed ready-made ids, documents and metadata (the record JSON included) and gets
raw metadata back; evolver's side does its own serialising, validation and parsing, which is
the overhead measured. Embedding is timed apart (MiniLM on a pool of distinct texts; the
records reuse those vectors with a little noise), and query latency with the embedding of the
query included is reported for evolver with MiniLM.

    python bench/memory.py            # 1k, 10k and 100k trajectories
    python bench/memory.py --quick    # 1k and 10k
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from evolver.memory import ExperienceMemory, MiniLMEmbeddings, Step, Trajectory
from evolver.memory.schema import embedding_text, metadata_of

TASKS = [
    "Open the {} door with the {} key.",
    "Pick up the {} ball and put it in the {} box.",
    "Reach the goal on the {} lake without falling into the {} hole.",
    "Take the passenger from the {} stand to the {} hotel.",
    "Cook the {} apple in the {} oven.",
]
WORDS = ["red", "green", "blue", "purple", "yellow", "grey", "small", "large", "old", "new"]
BATCH = 256
POOL = 500


def make_trajectories(count: int, start: int) -> list[Trajectory]:
    """Ten-step trajectories with observations of about 100 characters, as the toy-text envs give."""
    rng = np.random.default_rng(start)
    trajectories = []
    for episode in range(start, start + count):
        a, b = rng.choice(WORDS, 2)
        task = TASKS[episode % len(TASKS)].format(a, b)
        actions = [
            str(rng.choice(["north", "south", "east", "west", "open door", "take key"])) for _ in range(10)
        ]
        steps = tuple(
            Step(
                f"You are in room {episode % 97}, row {i}. A {a} door is to the north, a {b} key on the floor.",
                ("north", "south", "east", "west", "open door", "take key"),
                action,
                float(i == 9),
            )
            for i, action in enumerate(actions)
        )
        trajectories.append(
            Trajectory(
                env_id=f"evolver/Bench{episode % 4}-v0",
                task=task,
                seed=episode,
                steps=steps,
                success=bool(episode % 3 == 0),
                run_id="bench",
                generation=episode // 1000,
                episode=episode,
                total_return=float(episode % 3 == 0),
            )
        )
    return trajectories


class Precomputed:
    """An embedding function that looks vectors up, so both sides spend no time embedding."""

    def __init__(self) -> None:
        self.vectors: dict[str, np.ndarray] = {}

    def __call__(self, input):
        return [self.vectors[text] for text in input]


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="Stop at 10k trajectories.")
    parser.add_argument("--queries", type=int, default=200, help="Queries per scale and side.")
    args = parser.parse_args()
    import chromadb
    from chromadb.config import Settings

    scales = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000]
    minilm = MiniLMEmbeddings()
    pool_texts = [
        TASKS[i % len(TASKS)].format(WORDS[i % 10], WORDS[(i // 10) % 10]) + f" Attempt {i}."
        for i in range(POOL)
    ]
    minilm(pool_texts[:8])  # load the model before timing
    start = time.perf_counter()
    pool = np.asarray(minilm(pool_texts), dtype=np.float32)
    embed_ms = (time.perf_counter() - start) / POOL * 1000
    rng = np.random.default_rng(0)

    folder = Path(tempfile.mkdtemp(prefix="evolver-bench-memory-"))
    embeddings = Precomputed()
    memory = ExperienceMemory(folder / "evolver", embedding_function=embeddings, batch_size=BATCH)
    client = chromadb.PersistentClient(str(folder / "raw"), settings=Settings(anonymized_telemetry=False))
    raw = client.get_or_create_collection(
        "raw-trajectories", embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
    )
    rows = []
    written = 0
    try:
        for scale in scales:
            trajectories = make_trajectories(scale - written, written)
            texts = [embedding_text(t) for t in trajectories]
            noise = rng.normal(scale=0.05, size=(len(texts), pool.shape[1])).astype(np.float32)
            vectors = pool[rng.integers(0, POOL, len(texts))] + noise
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            embeddings.vectors.update(zip(texts, vectors, strict=True))
            payloads = [metadata_of(t) for t in trajectories]  # the raw side is handed these ready-made
            ids = [t.id for t in trajectories]
            evolver_s = raw_s = 0.0
            for at in range(0, len(trajectories), BATCH):
                span = slice(at, at + BATCH)
                t0 = time.perf_counter()
                memory.add(trajectories[span])
                t1 = time.perf_counter()
                raw.upsert(
                    ids=ids[span],
                    embeddings=list(vectors[span]),
                    documents=texts[span],
                    metadatas=payloads[span],
                )
                raw_s += time.perf_counter() - t1
                evolver_s += t1 - t0
            written = scale

            queries = [pool_texts[i] for i in rng.integers(0, POOL, args.queries)]
            query_vectors = {q: pool[pool_texts.index(q)] for q in queries}
            embeddings.vectors.update(query_vectors)
            evolver_q, raw_q, embedded_q = [], [], []
            for q in queries:
                t0 = time.perf_counter()
                memory.search(q, k=5, where={"success": True})
                t1 = time.perf_counter()
                raw.query(
                    query_embeddings=[query_vectors[q]],
                    n_results=5,
                    where={"success": {"$eq": True}},
                    include=["metadatas", "distances"],
                )
                raw_q.append(time.perf_counter() - t1)
                evolver_q.append(t1 - t0)
            memory.embedding_function = minilm
            for q in queries[: max(20, args.queries // 4)]:
                t0 = time.perf_counter()
                memory.search(q, k=5, where={"success": True})
                embedded_q.append(time.perf_counter() - t0)
            memory.embedding_function = embeddings
            rows.append(
                (
                    scale,
                    len(trajectories) / raw_s,
                    len(trajectories) / evolver_s,
                    raw_s and evolver_s / raw_s,
                    percentile(raw_q, 50),
                    percentile(evolver_q, 50),
                    statistics.median(evolver_q) / statistics.median(raw_q),
                    percentile(raw_q, 95),
                    percentile(evolver_q, 95),
                    percentile(embedded_q, 50),
                )
            )
            print_table(rows, embed_ms)
    finally:
        memory.close()
        client.close()
        shutil.rmtree(folder, ignore_errors=True)


def print_table(rows, embed_ms: float) -> None:
    header = (
        "records",
        "insert/s raw",
        "insert/s evolver",
        "time ratio",
        "query p50 raw ms",
        "query p50 evolver ms",
        "p50 ratio",
        "p95 raw ms",
        "p95 evolver ms",
        "p50 evolver+embed ms",
    )
    print("\n| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for scale, r_rate, e_rate, ratio, r50, e50, q_ratio, r95, e95, embedded in rows:
        print(
            f"| {scale:,} | {r_rate:,.0f} | {e_rate:,.0f} | {ratio:.3f} | {r50:.2f} | {e50:.2f} | {q_ratio:.3f} "
            f"| {r95:.2f} | {e95:.2f} | {embedded:.2f} |"
        )
    print(f"\nMiniLM embedding, batched: {embed_ms:.2f} ms per text ({POOL} texts).")


if __name__ == "__main__":
    main()
