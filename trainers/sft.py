"""`SFTDistiller`: distill successful steps into a policy with TRL's `SFTTrainer`.

The loss is on the completion (the action) only. `evolver.trainers.distill.distill` runs it from a
policy folder to a new one; `SFTDistiller.train` is the in-memory stage it calls.

Several GPUs: the same code runs data-parallel, one process per GPU, under
``accelerate launch --num_processes N my_distill.py`` (or ``torchrun --nproc_per_node N``), where the
script calls `distill(...)`. TRL's trainer reads the launcher's environment, gives each process its
share of every batch (`per_device_train_batch_size` is per GPU) and all-reduces the gradients; only
the main process writes the log and the new policy. Started as a plain `python` on a machine with
several GPUs, TRL refuses to fall back to `nn.DataParallel`: expose one GPU
(``CUDA_VISIBLE_DEVICES=0``) or use the launcher. The same path runs on CPU processes with
``use_cpu=True, ddp_backend="gloo"`` in the configs (checked with ``torchrun --nproc_per_node 2``).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING

from evolver.trainers.card import LOG_FILE, StageSummary, train_and_record
from evolver.trainers.sft_config import SFTDistillerConfig

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


class SFTDistiller:
    """Fine-tune a policy on prompt/completion examples (rejection-sampling fine-tuning).

    Args:
        config: Training settings; `SFTDistillerConfig()` when None.

    Example:
        >>> from evolver.trainers.sft import SFTDistiller
        >>> model, summary = SFTDistiller().train(model, tokenizer, dataset, log_dir=work)  # doctest: +SKIP
        >>> summary.final_loss  # doctest: +SKIP
        0.41
    """

    def __init__(self, config: SFTDistillerConfig | None = None) -> None:
        self.config = config or SFTDistillerConfig()

    def train(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        dataset: Dataset,
        *,
        log_dir: str | Path,
    ) -> tuple[PreTrainedModel, StageSummary]:
        """Train `model` on `dataset` (columns `prompt` and `completion`) and summarize the stage.

        Args:
            model: The policy; trained in place (wrapped in a LoRA adapter when `lora_rank` is set).
            tokenizer: Its tokenizer.
            dataset: Examples, e.g. from `evolver.trainers.data.build_sft_dataset`.
            log_dir: Where TRL's metrics (`train.log`) and TensorBoard events go.

        Returns:
            The trained model (the adapter-wrapped one with LoRA) and the stage's summary.
        """
        from accelerate.utils import is_peft_model
        from trl import SFTTrainer

        _check_dataset(dataset)
        started = time.perf_counter()
        trainer = SFTTrainer(
            model=model,
            args=dataclasses.replace(self.config, output_dir=str(log_dir)),
            train_dataset=dataset.select_columns(["prompt", "completion"]),
            processing_class=tokenizer,
            peft_config=None if is_peft_model(model) else self.config.peft_config(),
        )
        setup_seconds = time.perf_counter() - started
        log_file = Path(log_dir) / LOG_FILE
        summary = train_and_record(
            trainer, stage="sft", dataset=dataset, setup_seconds=setup_seconds, log_file=log_file
        )
        return trainer.model, summary


def _check_dataset(dataset: Dataset) -> None:
    missing = {"prompt", "completion"} - set(dataset.column_names)
    if missing:
        raise ValueError(
            f"Expected `dataset` to have the columns `prompt` and `completion`, got {dataset.column_names}. "
            "Build it with `evolver.trainers.data.build_sft_dataset`."
        )
    if len(dataset) == 0:
        raise ValueError(
            "No successful train trajectories to distill: the SFT dataset is empty. Run more episodes, or let "
            "`build_sft_dataset` learn from the best failures with `top_return_fraction` above 0."
        )
