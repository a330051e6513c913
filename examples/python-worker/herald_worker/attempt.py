"""One attempt at a job (shared/worker/attempt.ts): runs the handler, writes its progress, and
commits how it ended. Every write is fenced by the attempt's id (the record's `attemptId`): once
another attempt owns the job, or the job ended, nothing this attempt writes lands."""
import json
import threading
import time

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .jobs import Abort, Aborted, Context, PermanentError, problem
from .store import iso_ms, ms_iso, now_iso, now_ms

STORE_DOWN = (RedisConnectionError, RedisTimeoutError)


class RunningJobs:
    """The attempts this process runs: job id -> (attemptId, Abort). Read by the lease renewer
    and the cancel listener from their own threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self._jobs = {}

    def add(self, job_id, attempt_id, abort):
        with self._lock:
            self._jobs[job_id] = (attempt_id, abort)

    def remove(self, job_id, attempt_id):
        with self._lock:
            if self._jobs.get(job_id, (None,))[0] == attempt_id:
                del self._jobs[job_id]

    def attempts(self):
        with self._lock:
            return [(j, a) for j, (a, _) in self._jobs.items()]

    def abort(self, job_id, reason, detail=""):
        with self._lock:
            entry = self._jobs.get(job_id)
        if entry:
            entry[1].fire(reason, detail)

    def abort_all(self, reason, detail=""):
        with self._lock:
            entries = list(self._jobs.values())
        for _, abort in entries:
            abort.fire(reason, detail)

    def __len__(self):
        with self._lock:
            return len(self._jobs)


def owned_by(cur, attempt_id) -> bool:
    return cur["status"] == "running" and cur.get("attemptId") == attempt_id


class Attempt:
    def __init__(self, deps, delivery, job, job_type, payload, abort: Abort):
        self.deps = deps  # .store .queue .log .config .giving_up
        self.delivery = delivery
        self.job = job
        self.job_type = job_type
        self.payload = payload
        self.abort = abort
        self.attempt_id = job["attemptId"]
        self.latest = job  # the last state this attempt committed: its next write need not read first

    def commit(self, change, result_json=""):
        committed = self.deps.store.transition(self.job["id"], change, known=self.latest, result_json=result_json)
        if committed:
            self.latest = committed  # its event went out with the commit (store.py)
        return committed

    def report(self, progress: dict) -> None:
        def change(cur):
            if not owned_by(cur, self.attempt_id):
                return None  # fenced: the job is not this attempt's any more
            if cur.get("cancelRequested"):
                self.abort.fire("cancel")  # a missed control message
                return None
            return {"progress": progress}

        try:
            self.commit(change)
        except Exception as err:  # noqa: BLE001 - a lost progress write is not the job's failure
            self.deps.log.warn("progress write failed", jobId=self.job["id"], error=str(err))

    def run(self) -> None:
        job, policy, log = self.job, self.job_type.retry, self.deps.log
        timer = threading.Timer(
            policy.timeout_ms / 1000, self.abort.fire, ("timeout", f"the attempt took longer than {policy.timeout_ms} ms")
        )
        timer.daemon = True
        timer.start()
        ctx = Context(job["id"], job["attempts"], self.abort, self.report)
        try:
            value = self.job_type.run(self.payload, ctx)
            outcome = self.success(value) if not self.abort.fired else None
        except Aborted:
            outcome = None
        except PermanentError as err:
            outcome = None if self.abort.fired else self.failed("job-failed", "The job's handler failed", str(err), False)
        except Exception as err:  # noqa: BLE001 - any other failure is retryable, as in Herald
            outcome = None if self.abort.fired else self.failed("job-failed", "The job's handler failed", str(err), True)
        finally:
            timer.cancel()
        if outcome is None:  # the attempt was stopped
            if self.abort.reason == "shutdown":
                return self.hand_back()
            if self.abort.reason == "cancel":
                outcome = {"kind": "canceled"}
            else:
                outcome = self.failed("job-timeout", "The job's handler ran out of time", self.abort.detail, True)

        retry = outcome["kind"] == "failed" and outcome["retryable"] and job["attempts"] < policy.max_attempts
        finished_at = now_iso()  # decided once, so a retried write can recognise its own earlier landing
        retry_at = None
        if retry:
            retry_at = ms_iso(now_ms() + policy.delay_ms(job["attempts"]))
        ended = self.until_stored(lambda: self.write_outcome(outcome, finished_at, retry_at))
        d = self.delivery
        if ended == "gave-up":
            log.warn("Redis stayed unreachable; handing the job's message back", jobId=job["id"])
            return d.requeue()
        if ended is None:
            log.warn("the attempt lost the job to another attempt or an ending; its outcome is dropped", jobId=job["id"])
            return d.ack()
        if ended["status"] == "queued":
            # Committed first, published second: a crash in between redelivers the original message.
            delay = max(0, iso_ms(ended["retryAt"]) - now_ms())
            try:
                self.deps.queue.publish_retry(d.body, delay, d.headers)
                log.info("job will be retried", jobId=job["id"], attempt=job["attempts"], delayMs=delay)
            except Exception as err:  # noqa: BLE001 - the original message goes back instead
                log.warn("could not queue the retry; the message goes back", jobId=job["id"], error=str(err))
                time.sleep(1)
                return d.requeue()
        try:
            self.deps.store.release_lease(job["id"], self.attempt_id)
        except Exception as err:  # noqa: BLE001 - the sweeper drops a leftover lease
            log.warn("lease release failed", jobId=job["id"], error=str(err))
        log.info("attempt ended", jobId=job["id"], status=ended["status"])
        # A job that ends failed keeps its message in the dead-letter queue, where it can be replayed.
        return d.dead_letter() if ended["status"] == "failed" else d.ack()

    def success(self, value) -> dict:
        result = json.dumps(value, separators=(",", ":"))
        size = len(result.encode("utf-8"))
        limit = self.deps.config.result_limit_bytes
        if size > limit:
            detail = f"result is {size} bytes; the limit is {limit}"
            return self.failed("result-too-large", "The job's result is larger than allowed", detail, False)
        return {"kind": "succeeded", "result": result}

    def failed(self, kind, title, detail, retryable) -> dict:
        return {"kind": "failed", "error": problem(kind, title, detail, self.job["attempts"]), "retryable": retryable}

    def write_outcome(self, outcome, finished_at, retry_at):
        """A fenced write of the outcome; a cancel request wins over whatever the handler did. If an
        earlier try of this write landed but its reply was lost, the record already holds it."""
        landed = []

        def change(cur):
            if cur.get("attemptId") != self.attempt_id:
                return None
            if cur["status"] != "running":
                if cur.get("finishedAt") == finished_at or (retry_at and cur.get("retryAt") == retry_at):
                    landed.append(cur)
                return None
            if cur.get("cancelRequested"):
                return {"status": "canceled", "finishedAt": finished_at}
            if retry_at:
                return {"status": "queued", "error": outcome["error"], "retryAt": retry_at}
            if outcome["kind"] == "succeeded":
                progress = {**cur["progress"], "percent": 100, "etaSeconds": 0}
                return {"status": "succeeded", "result": {"kind": "stored"}, "error": None,
                        "finishedAt": finished_at, "progress": progress}
            if outcome["kind"] == "failed":
                return {"status": "failed", "error": outcome["error"], "finishedAt": finished_at}
            return {"status": "canceled", "finishedAt": finished_at}

        result = outcome.get("result", "") if outcome["kind"] == "succeeded" else ""
        committed = self.commit(change, result_json=result)
        return committed or (landed[0] if landed else None)

    def until_stored(self, write):
        """Retries the final write while Redis is unreachable (bounded, like Herald's storeOutageMs)."""
        deadline = time.monotonic() + self.deps.config.stall_timeout_ms / 1000
        tries = 0
        while True:
            try:
                return write()
            except STORE_DOWN as err:
                if time.monotonic() > deadline or self.deps.giving_up.is_set():
                    return "gave-up"
                if tries % 10 == 0:
                    self.deps.log.warn("final write failed; retrying until Redis is back", jobId=self.job["id"], error=str(err))
                tries += 1
                time.sleep(min(5.0, 0.1 * 2 ** min(tries, 6)))
            except Exception as err:  # noqa: BLE001 - a bug: hand the message back rather than lose it
                self.deps.log.error("final write failed", jobId=self.job["id"], error=str(err))
                return "gave-up"

    def hand_back(self) -> None:
        """Shutdown stopped the handler: the job goes back to `queued`, this attempt not counted."""
        d = self.delivery

        def change(cur):
            if not owned_by(cur, self.attempt_id):
                return None
            if cur.get("cancelRequested"):
                return {"status": "canceled", "finishedAt": now_iso()}
            return {"status": "queued", "attempts": max(0, cur["attempts"] - 1), "retryAt": None}

        try:
            back = self.commit(change)
            self.deps.store.release_lease(self.job["id"], self.attempt_id)
            self.deps.log.warn("job aborted by shutdown; requeueing", jobId=self.job["id"],
                               status=back["status"] if back else "unchanged")
            if back and back["status"] == "canceled":
                return d.ack()
        except Exception as err:  # noqa: BLE001 - Redis away: the message still goes back
            self.deps.log.warn("job aborted by shutdown; requeueing without handing it back",
                               jobId=self.job["id"], error=str(err))
        return d.requeue()
