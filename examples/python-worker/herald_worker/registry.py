"""The job type registry announcement (README.md#job-types, docs/worker-protocol.md#job-type-registry):
  HSET    <ns>:job-types <name> <definition JSON with announcedAt>   when it is missing or changed
  ZADD    <ns>:job-types:<name>:workers <expiresAtMs> <workerId>     every third of the TTL
  PUBLISH <ns>:job-types:changed <name>                              when the stored definition changed
  ZREM    <ns>:job-types:<name>:workers <workerId>                   on a graceful stop"""
import json
import threading

from .store import now_ms


class Announcer:
    def __init__(self, redis, names, log, worker_id: str, ttl_ms: int, definitions):
        self.redis = redis
        self.names = names
        self.log = log
        self.worker_id = worker_id
        self.ttl_ms = ttl_ms
        self.definitions = list(definitions)
        self._stop = threading.Event()
        self._thread = None

    def announce(self) -> None:
        """Writes each definition unless the stored one says the same, and this worker's entry."""
        for d in self.definitions:
            raw = self.redis.hget(self.names.job_types, d["name"])
            stored = _parse(raw)
            if stored is not None:
                stored.pop("announcedAt", None)
            if stored != d:
                self.redis.hset(self.names.job_types, d["name"], json.dumps({**d, "announcedAt": now_ms()}))
                self.redis.publish(self.names.job_types_changed, d["name"])
                self.log.info("job type definition stored", type=d["name"], version=d["version"])
            self.redis.zadd(self.names.job_type_workers(d["name"]), {self.worker_id: now_ms() + self.ttl_ms})
        self.log.info("job types announced", types=[d["name"] for d in self.definitions])

    def refresh(self) -> None:
        """Extends this worker's entries; a definition Redis lost is written again, one that another
        worker replaced since is left as it is (the last announcement wins)."""
        for d in self.definitions:
            if self.redis.hsetnx(self.names.job_types, d["name"], json.dumps({**d, "announcedAt": now_ms()})):
                self.redis.publish(self.names.job_types_changed, d["name"])
            self.redis.zadd(self.names.job_type_workers(d["name"]), {self.worker_id: now_ms() + self.ttl_ms})

    def start(self) -> None:
        if self._thread is not None:
            return  # announced already (this is a reconnect)
        self.announce()
        self._thread = threading.Thread(target=self._loop, name="registry", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.ttl_ms / 3000):
            try:
                self.refresh()
            except Exception as err:  # noqa: BLE001 - Redis away: the next round tries again
                self.log.warn("job type announcement not refreshed", error=str(err))

    def withdraw(self) -> None:
        """Called when the worker stops taking jobs (and again at exit: harmless)."""
        self._stop.set()
        # A refresh in flight would re-add the entry after the removal: let it finish first.
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        for d in self.definitions:
            try:
                self.redis.zrem(self.names.job_type_workers(d["name"]), self.worker_id)
            except Exception as err:  # noqa: BLE001 - the entry expires by itself
                self.log.warn("job type announcement not withdrawn", type=d["name"], error=str(err))


def _parse(raw):
    try:
        return None if raw is None else json.loads(raw)
    except ValueError:
        return None
