"""TextWorld games as evolver environments (extra: ``pip install "evolver[textworld]"``).

Games are generated locally with TextWorld's challenges (what ``tw-make`` runs): coin collector,
treasure hunter and cooking. The kind, level and seed choose the game; generating one takes a
few seconds, so games are cached on disk by (kind, level, seed) and generated once.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import gymnasium as gym

from evolver.envs.core import MAX_OBSERVATION_LENGTH, TextEnv

KINDS = {"coin": "tw-coin_collector", "treasure": "tw-treasure_hunter", "cooking": "tw-cooking"}
"""Our names for TextWorld's challenges."""

COOKING_LEVELS: dict[int, dict[str, Any]] = {
    1: {"recipe": 1, "take": 1, "go": 1},
    2: {"recipe": 1, "take": 1, "go": 1, "open": True, "cut": True},
    3: {"recipe": 2, "take": 2, "go": 6, "open": True, "cut": True, "cook": True},
    4: {"recipe": 3, "take": 3, "go": 9, "open": True, "cut": True, "cook": True, "drop": True},
}
"""Cooking has skills rather than a level: each level turns more of them on."""

_GENERATION_ATTEMPTS = 20
_PROMPT = re.compile(r"\n>[^\n]*$")  # TextWorld ends each feedback with a prompt and status line


def default_cache_dir() -> Path:
    """Where generated games are kept: ``$EVOLVER_CACHE/textworld`` or ``~/.cache/evolver/textworld``."""
    return Path(os.environ.get("EVOLVER_CACHE", Path.home() / ".cache" / "evolver")) / "textworld"


class TextWorldEnv(TextEnv):
    """A TextWorld game generated from the seed: its objective is the task, its admissible commands the actions.

    Args:
        kind: ``"coin"``, ``"treasure"`` or ``"cooking"``.
        level: The challenge's difficulty: 1-300 for coin, 1-30 for treasure, 1-4 for cooking
            (see `COOKING_LEVELS`).
        cache_dir: Where to keep generated games (default: `default_cache_dir()`).
        max_observation_length: The longest observation the observation space admits.
        render_mode: ``"ansi"`` or None.

    Example:
        >>> env = TextWorldEnv("coin", level=1)  # doctest: +SKIP
        >>> observation, info = env.reset(seed=0)  # generates and caches game 0, a few seconds
    """

    def __init__(
        self,
        kind: str = "coin",
        level: int = 1,
        cache_dir: str | Path | None = None,
        max_observation_length: int = MAX_OBSERVATION_LENGTH,
        render_mode: str | None = None,
    ) -> None:
        textworld = _import_textworld()
        if kind not in KINDS:
            raise ValueError(f"Expected `kind` to be one of {sorted(KINDS)}, got {kind!r}.")
        if kind == "cooking" and level not in COOKING_LEVELS:
            raise ValueError(
                f"Expected `level` of cooking to be one of {sorted(COOKING_LEVELS)}, got {level}."
            )
        super().__init__(max_observation_length=max_observation_length, render_mode=render_mode)
        self.kind = kind
        self.level = level
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self._infos = textworld.EnvInfos(
            description=True,
            objective=True,
            admissible_commands=True,
            policy_commands=True,
            won=True,
            score=True,
        )
        self._game: Any = None
        self._game_file: Path | None = None
        self._state: Any = None

    def game_file(self, seed: int) -> Path:
        """Return the compiled game of task `seed`, generating and caching it on first use."""
        path = self.cache_dir / f"{self.kind}-level{self.level}-seed{seed}.z8"
        if not path.exists():
            _generate(KINDS[self.kind], self._settings(), seed, path)
        return path

    def walkthrough(self) -> list[str]:
        """Commands that win the game from the current state (TextWorld's `policy_commands`)."""
        return list(self._state["policy_commands"])

    def _settings(self) -> dict[str, Any]:
        if self.kind == "cooking":
            return {"recipe_seed": 0, "split": None, **COOKING_LEVELS[self.level]}
        return {"level": self.level}

    def _start(self, task_seed: int) -> tuple[str, str]:
        import textworld

        path = self.game_file(task_seed)
        if path != self._game_file:
            self.close()
            self._game, self._game_file = textworld.start(str(path), request_infos=self._infos), path
        self._state = self._game.reset()
        return self._state["objective"].strip(), self._state["description"]

    def _admissible_actions(self) -> list[str]:
        return list(self._state["admissible_commands"])

    def _act(self, action: str) -> tuple[str, float, bool, bool]:
        score = self._state["score"]
        self._state, _, done = self._game.step(action)
        return _clean(self._state.feedback), self._state["score"] - score, done, self._state["won"]

    def close(self) -> None:
        if self._game is not None:
            self._game.close()
            self._game, self._game_file = None, None


def textworld_walkthrough_oracle(env: gym.Env, seed: int) -> list[str]:
    """Suite oracle for `TextWorldEnv`: reset to game `seed` and return its walkthrough."""
    env.reset(seed=seed)
    return env.unwrapped.walkthrough()


def _generate(challenge: str, settings: dict[str, Any], seed: int, path: Path) -> None:
    """Generate and compile game `seed` to `path` (and its `.json`), atomically: no reader sees half a game.

    Some seeds admit no quest of the asked length; then the next generation seeds in a fixed
    sequence are tried, so task `seed` is still always the same game.
    """
    import textworld
    import textworld.challenges
    from textworld.generator import QuestGenerationError

    _, make_game, _ = textworld.challenges.CHALLENGES[challenge]
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
        options = textworld.GameOptions()
        options.path = str(Path(scratch) / path.name)
        options.file_ext = ".z8"
        options.force_recompile = True
        for attempt in range(_GENERATION_ATTEMPTS):
            options.seeds = seed + attempt * 1_000_003
            try:
                game = make_game(settings=settings, options=options)
                break
            except QuestGenerationError:
                continue
        else:
            raise ValueError(
                f"TextWorld could not generate a {challenge} game with settings {settings} for seed {seed} "
                f"in {_GENERATION_ATTEMPTS} attempts: choose a lower level."
            )
        textworld.generator.compile_game(game, options)
        # The game file goes last: its presence means the game is complete.
        for suffix in (".json", ".z8"):
            shutil.move(str(Path(options.path).with_suffix(suffix)), path.with_suffix(suffix))


def _clean(feedback: str) -> str:
    text = _PROMPT.sub("", feedback)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _import_textworld() -> Any:
    try:
        import textworld
    except ImportError as error:
        raise ImportError(
            'TextWorld environments need the `textworld` package: pip install "evolver[textworld]"'
        ) from error
    return textworld
