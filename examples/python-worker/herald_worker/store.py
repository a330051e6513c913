"""The job store: Herald's Lua scripts (shared/store/scripts/*.lua), called with EVALSHA (redis-py's
Script falls back to SCRIPT LOAD on NOSCRIPT). Every change of a job goes through commit-job.lua,
the compare-and-set, which also SPUBLISHes the job's event (events.py) with the write."""
import json
import time
from datetime import datetime, timezone

from .events import job_event

TERMINAL = ("succeeded", "failed", "canceled")


def ms_iso(ms: int) -> str:
    """The timestamp format of JavaScript's toISOString(), which Herald's schemas expect."""
    t = datetime.fromtimestamp(ms / 1000, timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def now_iso() -> str:
    return ms_iso(now_ms())


def iso_ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def now_ms() -> int:
    return int(time.time() * 1000)


class Store:
    def __init__(self, redis, names, ttl_seconds: int, scripts_dir):
        self.redis = redis
        self.names = names
        self.ttl = str(ttl_seconds)

        def load(name):
            return redis.register_script((scripts_dir / f"{name}.lua").read_text(encoding="utf-8"))

        self._commit = load("commit-job")
        self._renew = load("renew-leases")
        self._release = load("release-lease")

    def get(self, job_id: str):
        raw = self.redis.get(self.names.job(job_id))
        return None if raw is None else json.loads(raw)

    def commit(self, nxt: dict, result_json: str = "", queued_due_ms=None) -> str:
        """Stores `nxt` if the stored version is nxt['version'] - 1: 'committed', 'conflict' or 'missing'.
        A commit announces itself: the script publishes the job's event with the write."""
        n, job_id = self.names, nxt["id"]
        shard = n.shard_of(job_id)
        return self._commit(
            keys=[n.job(job_id), n.result(job_id), n.job_events(job_id), n.queued(shard), n.payload(job_id), n.leases(shard)],
            args=[
                json.dumps(nxt, separators=(",", ":")),
                str(nxt["version"]),
                self.ttl,
                result_json,
                "" if queued_due_ms is None else str(int(queued_due_ms)),
                "",  # lease-expired-before: only the stall sweeper guards on a lapsed lease
                nxt["status"],
                job_id,
                "1" if nxt["status"] in TERMINAL else "",
                "",  # payload: stored anew only when an ended job is put back (not a worker's business)
                job_event(n, nxt),
            ],
        )

    def transition(self, job_id: str, change, known=None, result_json: str = "", max_tries: int = 20):
        """Read-modify-write with retry on conflict, as shared/store/job-store.ts `transition`.
        `change(current)` returns the fields to change (None as a value removes the field), or None
        to leave the job alone. Returns the committed record, or None (missing, or declined)."""
        current = known
        for _ in range(max_tries):
            if current is None:
                current = self.get(job_id)
            if current is None:
                return None
            fields = change(current)
            if fields is None:
                return None
            nxt = {**current, **fields, "version": current["version"] + 1, "updatedAt": now_iso()}
            nxt = {k: v for k, v in nxt.items() if v is not None}
            due = None
            if nxt["status"] == "queued":
                due = iso_ms(nxt["retryAt"]) if "retryAt" in nxt else now_ms()
            outcome = self.commit(nxt, result_json, due)
            if outcome == "committed":
                return nxt
            if outcome == "missing":
                return None
            current = None  # lost a race: read the winner's state and try again
        raise RuntimeError(f"job {job_id}: gave up after {max_tries} conflicting writes")

    def hold_lease(self, job_id: str, ttl_ms: int) -> None:
        self.redis.zadd(self.names.leases(self.names.shard_of(job_id)), {job_id: now_ms() + ttl_ms})

    def lease_expires_at(self, job_id: str):
        score = self.redis.zscore(self.names.leases(self.names.shard_of(job_id)), job_id)
        return None if score is None else int(score)

    def renew_leases(self, attempts, ttl_ms: int):
        """attempts: [(job id, attemptId)]. Returns the ids whose record asks for cancellation."""
        if not attempts:
            return []
        n = self.names
        by_shard = {}
        for job_id, attempt_id in attempts:
            by_shard.setdefault(n.shard_of(job_id), []).append((job_id, attempt_id))
        expiry = str(now_ms() + ttl_ms)
        # One script per shard (its keys share the shard's slot), sent together in one pipeline.
        pipe = self.redis.pipeline(transaction=False)
        for shard, mine in by_shard.items():
            args = [expiry]
            for job_id, attempt_id in mine:
                args += [job_id, attempt_id]
            self._renew(keys=[n.leases(shard)] + [n.job(j) for j, _ in mine], args=args, client=pipe)
        return [job_id for cancel in pipe.execute() for job_id in cancel]

    def release_lease(self, job_id: str, attempt_id: str) -> None:
        n = self.names
        self._release(keys=[n.leases(n.shard_of(job_id)), n.job(job_id)], args=[job_id, attempt_id])
