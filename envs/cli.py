"""`evolver envs`: list the environments and task suites, and check an environment against the contract."""

from __future__ import annotations

import importlib
import inspect
import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from evolver.envs.checker import check_env
from evolver.envs.registration import env_spec, list_envs
from evolver.envs.suites import get_suite, list_suites

app = typer.Typer(
    name="envs",
    help="""List environments and task suites, and check an environment against evolver's contract.

Examples:

  evolver envs list

  evolver envs list --json

  evolver envs list --import mygame.envs

  evolver envs check evolver/FrozenLake-v0

  evolver envs check mygame.envs:mygame/Maze-v0
""",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


@app.command("list")
def list_command(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON for scripts instead of tables.")
    ] = False,
    modules: Annotated[
        list[str] | None,
        typer.Option(
            "--import", "-i", help="Import this module first (the module of module:EnvId); repeatable."
        ),
    ] = None,
) -> None:
    """List the environments that follow evolver's contract, and the task suites.

    Examples:

      evolver envs list

      evolver envs list --json | jq '.suites[].name'

      evolver envs list --import mygame.envs
    """
    for module in modules or []:
        _import_or_exit(module)
    envs = [_describe_env(env_id) for env_id in list_envs()]
    suites = [_describe_suite(name) for name in list_suites()]
    if as_json:
        typer.echo(json.dumps({"envs": envs, "suites": suites}, indent=2))
        return
    console = Console()
    table = Table("id", "max steps", "description", title="Environments")
    for env in envs:
        table.add_row(env["id"], str(env["max_episode_steps"] or "-"), env["description"])
    console.print(table)
    table = Table("suite", "env", "train", "held-out", "oracle", "description", title="Task suites")
    for suite in suites:
        table.add_row(
            suite["name"],
            suite["env_id"],
            str(suite["train_seeds"]),
            str(suite["heldout_seeds"]),
            "yes" if suite["oracle"] else "no",
            suite["description"],
        )
    console.print(table)


@app.command()
def check(
    env_id: Annotated[
        str, typer.Argument(metavar="ID", help="An env id, or module:EnvId to import the module first.")
    ],
    episodes: Annotated[int, typer.Option(help="Episodes to play with random admissible actions.")] = 3,
    seed: Annotated[int, typer.Option(help="First task seed the checks use.")] = 0,
) -> None:
    """Check that an environment meets evolver's contract.

    Exits 0 when it does, 1 with the numbered problems (each with its fix) when it does not,
    2 when the id is unknown or the environment cannot be made.

    Examples:

      evolver envs check evolver/FrozenLake-v0

      evolver envs check mygame.envs:mygame/Maze-v0 --episodes 10
    """
    try:
        env_spec(env_id)
    except ValueError as error:
        typer.secho(f"Error: {error}", err=True, fg=typer.colors.RED)
        raise typer.Exit(code=2) from None
    try:
        problems = check_env(env_id, episodes=episodes, seed=seed)
    except ImportError as error:  # a missing extra: say what to install
        typer.secho(f"Error: {error}", err=True, fg=typer.colors.RED)
        raise typer.Exit(code=2) from None
    if not problems:
        typer.echo(f"{env_id} meets evolver's environment contract.")
        return
    typer.echo(f"{env_id} does not meet evolver's environment contract:")
    for number, problem in enumerate(problems, start=1):
        typer.echo(f"  {number}. {problem}")
    raise typer.Exit(code=1)


def _import_or_exit(module: str) -> None:
    try:
        importlib.import_module(module)
    except ImportError as error:
        typer.secho(f"Error: cannot import `{module}`: {error}", err=True, fg=typer.colors.RED)
        raise typer.Exit(code=2) from None


def _describe_env(env_id: str) -> dict[str, Any]:
    spec = env_spec(env_id)
    entry_point = spec.entry_point
    if isinstance(entry_point, str):
        module, _, name = entry_point.partition(":")
        entry_point = getattr(importlib.import_module(module), name)
    summary = (inspect.getdoc(entry_point) or "").split("\n", 1)[0]
    arguments = ", ".join(f"{key}={value!r}" for key, value in spec.kwargs.items())
    return {
        "id": env_id,
        "max_episode_steps": spec.max_episode_steps,
        "kwargs": spec.kwargs,
        "description": f"{summary} ({arguments})" if arguments else summary,
    }


def _describe_suite(name: str) -> dict[str, Any]:
    suite = get_suite(name)
    return {
        "name": suite.name,
        "env_id": suite.env_id,
        "env_kwargs": dict(suite.env_kwargs),
        "train_seeds": len(suite.train_seeds),
        "heldout_seeds": len(suite.heldout_seeds),
        "max_episode_steps": suite.max_episode_steps,
        "oracle": suite.oracle is not None,
        "description": suite.description,
    }
