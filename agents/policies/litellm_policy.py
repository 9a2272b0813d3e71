"""A hosted or served chat model as a policy, through litellm (OpenAI, Anthropic, Ollama, vLLM, ...).

The model answers in free text; the answer is mapped to an admissible action (exact, then
case-insensitive, then nearest) and kept as `ActionChoice.raw`. Rate limits, timeouts and server
errors are retried with exponential backoff, a bounded number of times; a prompt that still fails
gets an `ActionChoice` with `error` set, and the others go on. Rejected credentials stop at once
with the name of the environment variable to set. API keys are read from the environment (or
passed in) and are never recorded.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from evolver.agents.policies.base import ActionChoice, match_action

ACT_INSTRUCTION = "Answer with exactly one of the listed actions, copied verbatim, and nothing else."


class LiteLLMPolicy:
    """A policy backed by any litellm model string, e.g. ``"openai/gpt-4o-mini"``.

    Args:
        model: A litellm model string: ``openai/...``, ``anthropic/...``, ``ollama/...``,
            ``hosted_vllm/...``.
        api_base: The server's base URL, for self-hosted OpenAI-compatible servers.
        api_key: A key to send instead of the provider's environment variable.
        max_retries: Retries of a request after a rate limit, timeout or server error.
        backoff_seconds: The first wait before a retry; it doubles with every retry.
        timeout_seconds: How long one request may take.
        max_workers: Requests in flight at once.
        max_context_tokens: The model's context length; looked up in litellm's model map
            when not given (8192 for models it does not know).
        max_tokens: Tokens an action answer may take.

    Example:
        >>> policy = LiteLLMPolicy("openai/gpt-4o-mini")  # doctest: +SKIP
        >>> policy.act(["Task: ...\\nActions: left | right\\nAction:"], [["left", "right"]])  # doctest: +SKIP
    """

    def __init__(
        self,
        model: str,
        *,
        api_base: str | None = None,
        api_key: str | None = None,
        max_retries: int = 4,
        backoff_seconds: float = 1.0,
        timeout_seconds: float = 60.0,
        max_workers: int = 8,
        max_context_tokens: int | None = None,
        max_tokens: int = 32,
    ) -> None:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm

        if max_retries < 0:
            raise ValueError(f"Expected `max_retries` to be >= 0, got {max_retries}.")
        self.model = model
        self.name = model
        self.api_base = api_base
        self._api_key = api_key
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
        self.timeout_seconds = timeout_seconds
        self.max_workers = max_workers
        self.max_tokens = max_tokens
        self.provider = litellm.get_llm_provider(model)[1]
        if max_context_tokens is None:
            try:
                max_context_tokens = litellm.get_model_info(model)["max_input_tokens"] or 8192
            except litellm.exceptions.ModelNotMappedError:
                max_context_tokens = 8192
        self.max_context_tokens = max_context_tokens

    def __repr__(self) -> str:
        return f"LiteLLMPolicy(model={self.model!r}, api_base={self.api_base!r})"

    def count_tokens(self, text: str) -> int:
        """The number of tokens `text` takes, by litellm's tokenizer for the model."""
        import litellm

        return litellm.token_counter(model=self.model, text=text)

    def act(
        self,
        prompts: Sequence[str],
        actions: Sequence[Sequence[str]],
        *,
        temperature: float = 0.0,
        rng: np.random.Generator | None = None,
    ) -> list[ActionChoice]:
        """Ask for an action on every prompt concurrently and map each answer to an admissible one.

        `rng` is unused: the provider samples.
        """
        if len(prompts) != len(actions):
            raise ValueError(f"Expected one action list per prompt, got {len(prompts)} and {len(actions)}.")
        messages = [
            [{"role": "system", "content": ACT_INSTRUCTION}, {"role": "user", "content": prompt}]
            for prompt in prompts
        ]
        replies = self._ask_all(messages, self.max_tokens, temperature)
        choices = []
        for (answer, error), options in zip(replies, actions, strict=True):
            choices.append(ActionChoice(None, error=error) if error else match_action(answer, options))
        return choices

    def complete(
        self, prompts: Sequence[str], *, max_new_tokens: int = 128, temperature: float = 0.0
    ) -> list[str]:
        """Answer every prompt with free text.

        Raises:
            RuntimeError: A request still failed after the retries.
        """
        replies = self._ask_all(
            [[{"role": "user", "content": p}] for p in prompts], max_new_tokens, temperature
        )
        errors = [error for _, error in replies if error]
        if errors:
            raise RuntimeError(f"{len(errors)} of {len(prompts)} requests failed; the first: {errors[0]}")
        return [answer for answer, _ in replies]

    def _ask_all(self, messages: list[list[dict]], max_tokens: int, temperature: float):
        with ThreadPoolExecutor(max_workers=self.max_workers) as pool:
            return list(pool.map(lambda m: self._ask(m, max_tokens, temperature), messages))

    def _ask(self, messages: list[dict], max_tokens: int, temperature: float) -> tuple[str, str | None]:
        """One request with bounded retries: (answer, None), or ("", why it failed)."""
        import litellm
        import openai

        retryable = (
            litellm.RateLimitError,
            litellm.Timeout,
            litellm.APIConnectionError,
            litellm.InternalServerError,
            litellm.ServiceUnavailableError,
            litellm.BadGatewayError,
        )
        attempt = 0
        while True:
            try:
                response = litellm.completion(
                    model=self.model,
                    messages=messages,
                    api_base=self.api_base,
                    api_key=self._api_key,
                    temperature=temperature,
                    max_tokens=max_tokens,
                    timeout=self.timeout_seconds,
                    num_retries=0,
                    max_retries=0,
                )
                return response.choices[0].message.content or "", None
            except litellm.AuthenticationError as err:
                variable = f"{self.provider.upper()}_API_KEY"
                raise PermissionError(
                    f"The provider rejected the credentials for `{self.model}` ({err.status_code}). "
                    f"Set {variable} in the environment to a valid key (or pass `api_key=`)."
                ) from None
            except retryable as err:
                if attempt == self.max_retries:
                    return "", f"{type(err).__name__} after {attempt + 1} tries: {err}"
                time.sleep(self.backoff_seconds * 2**attempt)
                attempt += 1
            except openai.OpenAIError as err:
                return "", f"{type(err).__name__}: {err}"
