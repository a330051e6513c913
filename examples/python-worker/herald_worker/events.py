"""Job events, in the Socket.IO sharded Redis adapter's own format (shared/events/sharded-room-message.ts):
a BROADCAST ClusterMessage, as JSON, SPUBLISHed on the job's events channel
`<ns>:socket.io#/#job:<id>#`. The adapter of each API instance holding a socket in the job's room
delivers it, and the API's change feed reads it for SSE streams and long polls: every committed
change must be published here, once."""
import json

BROADCAST = 3  # socket.io-adapter MessageType.BROADCAST
EVENT = 2  # socket.io-parser PacketType.EVENT


def to_view(r: dict) -> dict:
    """The public representation of a record (shared/jobs/job-view.ts toView)."""
    view = {k: r[k] for k in ("id", "type", "status", "version", "attempts", "progress", "createdAt", "updatedAt")}
    view["statusUrl"] = f"/jobs/{r['id']}"
    for k in ("startedAt", "finishedAt"):
        if r.get(k):
            view[k] = r[k]
    result = r.get("result")
    if result:
        view["resultUrl"] = f"/jobs/{r['id']}/result" if result["kind"] == "stored" else result["uri"]
    for k in ("error", "retryAt"):
        if r.get(k):
            view[k] = r[k]
    if r.get("cancelRequested"):
        view["cancelRequested"] = True
    return view


class SocketIoEvents:
    def __init__(self, redis, names, log):
        self.redis = redis
        self.names = names
        self.log = log

    def publish(self, record: dict) -> None:
        """Fire-and-forget: a lost event is logged; clients converge through snapshots."""
        room = self.names.job_room(record["id"])
        message = {
            "uid": "emitter",  # any uid but an API instance's own
            "nsp": "/",
            "type": BROADCAST,
            "data": {
                "packet": {"type": EVENT, "data": ["job", to_view(record)]},
                "opts": {"rooms": [room], "except": [], "flags": {}},
            },
        }
        try:
            body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
            self.redis.execute_command("SPUBLISH", self.names.job_events(record["id"]), body)
        except Exception as err:  # noqa: BLE001 - an outage must not end the attempt
            self.log.warn("job event not published; subscribers resync from the job's state",
                          jobId=record["id"], error=str(err))
