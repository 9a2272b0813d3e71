"""`evolver memory`: look into an experience memory from the shell.

Every command takes the store as `--run RUN_DIR` (the run's memory is RUN_DIR/memory),
`--path DIR`, or `--url URL` (a `chroma run` server, with `--token` if it needs one).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from evolver.memory.folder import MARKER_FILE, MemoryLockedError
from evolver.memory.records import Insight, Trajectory, to_dict
from evolver.memory.store import ExperienceMemory

T = TypeVar("T")

app = typer.Typer(
    name="memory",
    help="""Query, summarise, export and import an experience memory.

Examples:

  evolver memory stats --run runs/demo

  evolver memory query "open the locked door" --run runs/demo --success --k 3

  evolver memory query "avoid the holes" --url http://localhost:8000 --kind reflection --json

  evolver memory export --run runs/demo --out demo.parquet

  evolver memory import demo.jsonl --path /tmp/memory
""",
    no_args_is_help=True,
    rich_markup_mode=None,
)

RunOption = Annotated[
    Path | None, typer.Option("--run", help="Run folder; its memory is RUN/memory.", show_default=False)
]
PathOption = Annotated[
    Path | None, typer.Option("--path", help="Folder of an embedded memory.", show_default=False)
]
UrlOption = Annotated[
    str | None, typer.Option("--url", help="Chroma server, e.g. http://localhost:8000.", show_default=False)
]
TokenOption = Annotated[
    str | None, typer.Option("--token", envvar="CHROMA_TOKEN", help="Token for a server that needs one.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")]


@app.command()
def query(
    text: Annotated[str, typer.Argument(help="What to look for, e.g. a task.")],
    run: RunOption = None,
    path: PathOption = None,
    url: UrlOption = None,
    token: TokenOption = None,
    env: Annotated[str | None, typer.Option("--env", help="Only this environment id.")] = None,
    success: Annotated[
        bool | None,
        typer.Option("--success/--failure", help="Only successes, or only failures.", show_default=False),
    ] = None,
    kind: Annotated[str, typer.Option("--kind", help="trajectory, reflection or insight.")] = "trajectory",
    k: Annotated[int, typer.Option("--k", min=1, help="How many hits.")] = 5,
    as_json: JsonOption = False,
) -> None:
    """Find the records closest in meaning to TEXT.

    Example: evolver memory query "open the locked door" --run runs/demo --env evolver/Door-v0 --success
    """
    where = {key: value for key, value in {"env_id": env, "success": success}.items() if value is not None}
    with _open(run, path, url, token, must_exist=True) as memory:
        hits = _usage(lambda: memory.search(text, k=k, kind=kind, where=where))
    if as_json:
        rows = [
            {"id": h.record.id, "distance": h.distance, "score": h.score, "record": to_dict(h.record)}
            for h in hits
        ]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"{len(hits)} {kind} hits for {text!r}")
    for column in ("score", "id", "env", "outcome", "text"):
        table.add_column(column, overflow="fold")
    for hit in hits:
        record = hit.record
        outcome = "" if isinstance(record, Insight) else "success" if record.success else "failure"
        shown = record.task if isinstance(record, Trajectory) else record.text
        table.add_row(f"{hit.score:.3f}", record.id, record.env_id, outcome, shown)
    Console().print(table)


@app.command()
def stats(
    run: RunOption = None,
    path: PathOption = None,
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Count records by kind, and trajectories by environment, generation and outcome.

    Example: evolver memory stats --run runs/demo --json
    """
    with _open(run, path, url, token, must_exist=True) as memory:
        summary = memory.stats()
    if as_json:
        typer.echo(json.dumps(asdict(summary), indent=2))
        return
    table = Table(title="Experience memory")
    for column in ("counted", "name", "count"):
        table.add_column(column, justify="right" if column == "count" else "left")
    for counted, counts in (
        ("records by kind", summary.kinds),
        ("trajectories by env", summary.envs),
        ("trajectories by generation", summary.generations),
        ("trajectories by outcome", summary.outcomes),
    ):
        for name, count in counts.items():
            table.add_row(counted, str(name), str(count))
        table.add_section()
    Console().print(table)


@app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", help="File to write.", show_default=False)],
    run: RunOption = None,
    path: PathOption = None,
    url: UrlOption = None,
    token: TokenOption = None,
    format: Annotated[
        str | None, typer.Option("--format", help="jsonl or parquet; by default from the --out suffix.")
    ] = None,
) -> None:
    """Write every record to a JSONL or parquet file.

    Example: evolver memory export --run runs/demo --out demo.parquet
    """
    format = format or ("parquet" if out.suffix == ".parquet" else "jsonl")
    if format not in ("jsonl", "parquet"):
        raise typer.BadParameter(f"Expected jsonl or parquet, got {format!r}.", param_hint="--format")
    with _open(run, path, url, token, must_exist=True) as memory:
        if format == "jsonl":
            count = memory.export_jsonl(out)
        else:
            dataset = memory.to_dataset()
            dataset.to_parquet(str(out))
            count = len(dataset)
    typer.echo(f"Exported {count} records to {out}.")


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="A .jsonl or .parquet export.", exists=True, dir_okay=False)],
    run: RunOption = None,
    path: PathOption = None,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Upsert the records of an export (records already there are replaced, never duplicated).

    Example: evolver memory import demo.jsonl --path /tmp/memory
    """
    with _open(run, path, url, token, must_exist=False) as memory:
        if file.suffix == ".parquet":
            from datasets import Dataset

            count = _usage(lambda: memory.import_dataset(Dataset.from_parquet(str(file))))
        else:
            count = _usage(lambda: memory.import_jsonl(file))
    typer.echo(f"Imported {count} records into {memory!r}.")


def _open(
    run: Path | None, path: Path | None, url: str | None, token: str | None, must_exist: bool
) -> ExperienceMemory:
    given = [name for name, value in (("--run", run), ("--path", path), ("--url", url)) if value is not None]
    if len(given) != 1:
        raise typer.BadParameter(
            f"Expected exactly one of --run RUN_DIR, --path DIR or --url URL, got {', '.join(given) or 'none'}."
        )
    folder = run / "memory" if run is not None else path
    if must_exist and folder is not None and not (folder / MARKER_FILE).exists():
        raise typer.BadParameter(f"No evolver memory at {folder}. Check the folder, or write to it first.")
    return _usage(lambda: ExperienceMemory(folder, url=url, token=token))


def _usage(call: Callable[[], T]) -> T:
    """Run `call`, turning evolver's refusals into a usage error (exit 2) that says what to do."""
    try:
        return call()
    except (ValueError, MemoryLockedError) as error:
        raise typer.BadParameter(str(error)) from None
