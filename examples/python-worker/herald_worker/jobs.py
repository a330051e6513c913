"""What a job type is for this worker: its registry definition, a payload check, and its handler.
A handler is a plain function run(payload, ctx) that returns the result (any JSON value)."""
import math
import random
import threading
from dataclasses import dataclass, field

PROBLEM = "urn:herald:problem:"


class PermanentError(Exception):
    """Raise it from a handler for a failure another try cannot fix: the job fails at once."""


class Aborted(Exception):
    """Raised inside a handler (by ctx.sleep / ctx.check) once the attempt must stop."""


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 3
    backoff_base_ms: int = 1_000
    backoff_max_ms: int = 60_000
    timeout_ms: int = 15 * 60_000

    def as_json(self) -> dict:
        return {
            "maxAttempts": self.max_attempts,
            "backoffBaseMs": self.backoff_base_ms,
            "backoffMaxMs": self.backoff_max_ms,
            "timeoutMs": self.timeout_ms,
        }

    def delay_ms(self, attempts: int) -> int:
        """Backoff before the next try, as Herald's backoffDelay(attempts - 1, base, max): full jitter."""
        ceiling = min(self.backoff_max_ms, self.backoff_base_ms * 2 ** min(attempts - 1, 30))
        return round(ceiling / 2 + random.random() * ceiling / 2)


@dataclass(frozen=True)
class JobType:
    name: str
    version: str
    description: str
    #: JSON Schema of the payload (announced in the registry; the API validates submissions with it).
    payload_schema: dict
    #: Checks a payload at the worker (a message may bypass the API): an error message, or None.
    validate: object
    run: object
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def definition(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "payload": self.payload_schema,
            "retry": self.retry.as_json(),
        }


class Abort:
    """Why an attempt must stop: 'cancel', 'shutdown' or 'timeout'. The first reason wins."""

    def __init__(self):
        self._event = threading.Event()
        self._lock = threading.Lock()
        self.reason = None
        self.detail = ""

    def fire(self, reason: str, detail: str = "") -> None:
        with self._lock:
            if self.reason is None:
                self.reason, self.detail = reason, detail
                self._event.set()

    @property
    def fired(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        return self._event.wait(seconds)


class Context:
    """What a handler gets besides its payload."""

    def __init__(self, job_id: str, attempt: int, abort: Abort, report):
        self.job_id = job_id
        #: 1 on the first try.
        self.attempt = attempt
        self._abort = abort
        self._report = report

    @property
    def aborted(self) -> bool:
        return self._abort.fired

    def check(self) -> None:
        """Raises Aborted once the job must stop (cancel, timeout, shutdown)."""
        if self._abort.fired:
            raise Aborted(self._abort.reason)

    def sleep(self, seconds: float) -> None:
        """Waits, but raises Aborted at once when the job must stop."""
        if self._abort.wait(seconds):
            raise Aborted(self._abort.reason)

    def progress(self, percent: float, message=None, eta_seconds=None) -> None:
        """Records progress (0..100); written to the job's record before it returns."""
        if not (isinstance(percent, (int, float)) and 0 <= percent <= 100 and math.isfinite(percent)):
            raise ValueError(f"progress percent must be within 0..100, got {percent!r}")
        p = {"percent": percent}
        if message is not None:
            p["message"] = str(message)[:500]
        if eta_seconds is not None:
            p["etaSeconds"] = max(0, min(31_536_000, eta_seconds))
        self._report(p)


def problem(kind: str, title: str, detail: str, attempts: int) -> dict:
    return {"type": PROBLEM + kind, "title": title, "detail": detail, "attempts": attempts}
