"""Every Redis key, channel and queue name the worker uses, built from the namespace exactly as
Herald's shared/store/names.ts builds them. Nothing else in this package spells these strings."""

# Upper bounds of the retry tiers (shared/queue/queue-topology.ts retryTiersMs).
RETRY_TIERS_MS = (1_000, 5_000, 30_000, 120_000, 600_000, 3_600_000)


def retry_tier(delay_ms: int) -> int:
    return next((t for t in RETRY_TIERS_MS if delay_ms <= t), RETRY_TIERS_MS[-1])


class Names:
    def __init__(self, ns: str):
        self.namespace = ns
        self.leases = f"{ns}:leases"
        self.queued = f"{ns}:queued"
        self.control_channel = f"{ns}:control"
        self.jobs_queue = f"{ns}.jobs"
        self.socket_io_key = f"{ns}:socket.io"
        self.job_types = f"{ns}:job-types"
        self.job_types_changed = f"{ns}:job-types:changed"

    def job(self, job_id: str) -> str:
        return f"{self.namespace}:job:{job_id}"

    def result(self, job_id: str) -> str:
        return f"{self.namespace}:job:{job_id}:result"

    def payload(self, job_id: str) -> str:
        return f"{self.namespace}:job:{job_id}:payload"

    def job_room(self, job_id: str) -> str:
        return f"job:{job_id}"

    def job_events(self, job_id: str) -> str:
        """The sharded channel (SPUBLISH) of the job's events: the Socket.IO sharded adapter's channel
        of the job's room, where sockets, SSE and long polls all listen."""
        return f"{self.socket_io_key}#/#{self.job_room(job_id)}#"

    def retry_queue(self, tier_ms: int) -> str:
        return f"{self.namespace}.jobs.retry.{tier_ms}ms"

    def job_type_workers(self, name: str) -> str:
        return f"{self.namespace}:job-types:{name}:workers"
