"""Model weights from the Hugging Face hub, found fast or refused fast.

Offline, the hub client retries for about half a minute before it gives up. A model-backed
agent asks `hub_reachable_or_cached` first: a hub id in the local cache loads from there;
else the hub must answer within `HUB_PROBE_S`, or the agent's one-line error says how to
get the weights onto the machine.
"""

from __future__ import annotations

import functools
import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from urllib.parse import urlparse

HUB_PROBE_S = 2.0  # how long the hub may take to answer before it counts as unreachable


@functools.cache
def hub_reachable_or_cached(model_id: str, agent: str, error: type[Exception]) -> None:
    """Return when `model_id` is in the local cache or the hub answers; else raise
    `error` with one line that starts with `agent:`."""
    from huggingface_hub import constants, try_to_load_from_cache
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(model_id)
    except HFValidationError:
        return  # not a hub id (a missing folder, a typo): the loader says what it is
    for name in ("config.json", "adapter_config.json"):
        if isinstance(try_to_load_from_cache(model_id, name), str):
            return  # in the cache: transformers finds it there when the hub is away
    fix = (
        f"download it where there is internet (`hf download {model_id}`) and copy the "
        "Hugging Face cache (~/.cache/huggingface, or $HF_HOME) to this machine, or play a "
        f"local model folder with {agent}:DIR"
    )
    where = f"{agent}: {model_id} is not in the local Hugging Face cache and"
    if constants.HF_HUB_OFFLINE:
        raise error(f"{where} HF_HUB_OFFLINE is set: {fix}")
    url = urlparse(constants.ENDPOINT)
    host, port = url.hostname or "", url.port or (443 if url.scheme == "https" else 80)

    def probe() -> None:
        socket.create_connection((host, port), timeout=HUB_PROBE_S).close()

    pool = ThreadPoolExecutor(1, thread_name_prefix="hub-probe")
    try:
        pool.submit(probe).result(timeout=HUB_PROBE_S)  # the name lookup included
    except (OSError, FutureTimeout) as exc:
        reason = "does not answer" if isinstance(exc, FutureTimeout) else f"({exc})"
        raise error(
            f"{where} the hub at {constants.ENDPOINT} cannot be reached {reason}: {fix}"
        ) from None
    finally:
        pool.shutdown(wait=False)
