"""Every Redis key, channel and queue name the worker uses, built from the namespace exactly as
Herald's shared/store/names.ts builds them. Nothing else in this package spells these strings.

A job's keys, and the per-namespace structures of its shard, carry the shard's hash tag
(`<ns>:{<tag>}:...`): shard = zlib.crc32(job id, UTF-8) % the shard count, tags from shards.json
beside the Lua scripts (the same file Herald reads, shared/store/shards.ts)."""
import json
import zlib

# Upper bounds of the retry tiers (shared/queue/queue-topology.ts retryTiersMs).
RETRY_TIERS_MS = (1_000, 5_000, 30_000, 120_000, 600_000, 3_600_000)


def retry_tier(delay_ms: int) -> int:
    return next((t for t in RETRY_TIERS_MS if delay_ms <= t), RETRY_TIERS_MS[-1])


def load_shard_tags(scripts_dir) -> tuple:
    """The shard tags of shards.json in the scripts directory, in shard order."""
    data = json.loads((scripts_dir / "shards.json").read_text(encoding="utf-8"))
    tags = tuple(data["tags"])
    if len(tags) != data["shards"]:
        raise ValueError(f"shards.json: {len(tags)} tags for {data['shards']} shards")
    return tags


class Names:
    def __init__(self, ns: str, shard_tags):
        self.namespace = ns
        self.shard_tags = tuple(shard_tags)
        self.shards = range(len(self.shard_tags))
        self.jobs_queue = f"{ns}.jobs"
        self.socket_io_key = f"{ns}:socket.io"
        # The job-type registry's keys share one slot (MULTI over them in Herald).
        registry = f"{ns}:{{{ns}:job-types}}"
        self.job_types = registry
        self.job_types_changed = f"{registry}:changed"
        self._job_type_workers = registry

    def shard_of(self, job_id: str) -> int:
        return zlib.crc32(job_id.encode("utf-8")) % len(self.shard_tags)

    def _shard(self, shard: int) -> str:
        return f"{self.namespace}:{{{self.shard_tags[shard]}}}"

    def leases(self, shard: int) -> str:
        return f"{self._shard(shard)}:leases"

    def queued(self, shard: int) -> str:
        return f"{self._shard(shard)}:queued"

    def control_channel(self, shard: int) -> str:
        """A sharded pub/sub channel (SSUBSCRIBE)."""
        return f"{self._shard(shard)}:control"

    def job(self, job_id: str) -> str:
        return f"{self._shard(self.shard_of(job_id))}:job:{job_id}"

    def result(self, job_id: str) -> str:
        return f"{self.job(job_id)}:result"

    def payload(self, job_id: str) -> str:
        return f"{self.job(job_id)}:payload"

    def job_room(self, job_id: str) -> str:
        """Carries the job's shard tag: the room's channel (job_events) is in the slot of its keys."""
        return f"job:{{{self.shard_tags[self.shard_of(job_id)]}}}:{job_id}"

    def job_events(self, job_id: str) -> str:
        """The sharded channel (SPUBLISH) of the job's events: the Socket.IO sharded adapter's channel
        of the job's room, where sockets, SSE and long polls all listen."""
        return f"{self.socket_io_key}#/#{self.job_room(job_id)}#"

    def retry_queue(self, tier_ms: int) -> str:
        return f"{self.namespace}.jobs.retry.{tier_ms}ms"

    def job_type_workers(self, name: str) -> str:
        return f"{self._job_type_workers}:{name}:workers"
