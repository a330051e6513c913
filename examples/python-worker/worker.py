#!/usr/bin/python3
"""A Herald worker in Python serving the job type `word-count`.

    python3 examples/python-worker/worker.py

Same environment as Herald (AMQP_URL, REDIS_URL, HERALD_NAMESPACE, WORKER_PREFETCH, LEASE_MS, ...),
plus WORD_COUNT_CHUNK_WORDS and WORD_COUNT_CHUNK_DELAY_MS (how the count is paced). Needs only
Debian's python3-pika and python3-redis. The protocol it follows: docs/worker-protocol.md."""
import os
import sys

sys.dont_write_bytecode = True  # keep the source tree clean

try:
    import pika  # noqa: F401
    import redis  # noqa: F401
except ImportError as err:
    sys.exit(f"{err}: install Debian's python3-pika and python3-redis (apt-get install python3-pika python3-redis) "
             "and run this with the system's python3 (/usr/bin/python3)")

from herald_worker.config import ConfigError, StartupError
from herald_worker.jobs import JobType, PermanentError, RetryPolicy
from herald_worker.runner import run_worker


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name) or str(default)
    if not raw.isdigit():
        raise ConfigError(f"invalid configuration:\n  {name}: expected a whole number, got {raw!r}")
    return int(raw)


CHUNK_WORDS = max(1, _env_int("WORD_COUNT_CHUNK_WORDS", 100))
CHUNK_DELAY_MS = _env_int("WORD_COUNT_CHUNK_DELAY_MS", 50)

PAYLOAD_SCHEMA = {
    "type": "object",
    "properties": {
        "text": {"type": "string", "maxLength": 1_000_000},
        "failAttempts": {"type": "integer", "minimum": 0, "maximum": 100},
        "fail": {"type": "string", "minLength": 1, "maxLength": 1000},
    },
    "required": ["text"],
    "additionalProperties": False,
}


def validate(payload: dict):
    """The worker's own check of the schema above (a message may not have come through the API)."""
    extra = set(payload) - set(PAYLOAD_SCHEMA["properties"])
    if extra:
        return f"unknown fields: {', '.join(sorted(extra))}"
    if not isinstance(payload.get("text"), str):
        return "text must be a string"
    fail_attempts = payload.get("failAttempts", 0)
    if not (isinstance(fail_attempts, int) and not isinstance(fail_attempts, bool) and 0 <= fail_attempts <= 100):
        return "failAttempts must be an integer from 0 to 100"
    if "fail" in payload and not (isinstance(payload["fail"], str) and payload["fail"]):
        return "fail must be a non-empty string"
    return None


def count_words(payload: dict, ctx) -> dict:
    """Counts words chunk by chunk, reporting progress, so a long text takes a while and can be
    cancelled (ctx.sleep raises once the job must stop) or killed mid-job."""
    words = payload["text"].split()
    total = len(words)
    chunks = max(1, -(-total // CHUNK_WORDS))
    fail_at = chunks // 2 + 1 if ("fail" in payload or ctx.attempt <= payload.get("failAttempts", 0)) else None
    counted = 0
    for chunk in range(1, chunks + 1):
        ctx.sleep(CHUNK_DELAY_MS / 1000)
        counted += len(words[(chunk - 1) * CHUNK_WORDS:chunk * CHUNK_WORDS])
        if fail_at == chunk:
            if "fail" in payload:
                raise PermanentError(payload["fail"])
            raise RuntimeError(f"attempt {ctx.attempt} failed on purpose (failAttempts: {payload['failAttempts']})")
        ctx.progress(round(100 * chunk / chunks, 1), f"{counted} of {total} words",
                     eta_seconds=(chunks - chunk) * CHUNK_DELAY_MS / 1000)
    return {"words": counted}


word_count = JobType(
    name="word-count",
    version="1",
    description="Counts the words of `text` (served by the Python worker, examples/python-worker). "
    "`failAttempts: n` fails the first n tries (retryably) halfway; `fail` fails for good halfway.",
    payload_schema=PAYLOAD_SCHEMA,
    validate=validate,
    run=count_words,
    retry=RetryPolicy(max_attempts=3, backoff_base_ms=500, backoff_max_ms=10_000, timeout_ms=10 * 60_000),
)

if __name__ == "__main__":
    try:
        run_worker([word_count])
    except (ConfigError, StartupError) as err:
        sys.exit(str(err))
