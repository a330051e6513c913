"""Job events to Socket.IO clients, in the format of @socket.io/redis-emitter: a MessagePack array
[uid, packet, opts] published on `<ns>:socket.io#/#<room>#`, which every API instance's Redis
adapter delivers to the sockets it holds in that room. (SSE and long polls need nothing from the
worker: commit-job.lua publishes each committed record on the job's changes channel.)"""
from .msgpack import packb

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
        packet = {"type": EVENT, "data": ["job", to_view(record)], "nsp": "/"}
        message = packb(["emitter", packet, {"rooms": [room], "flags": {}, "except": []}])
        try:
            self.redis.publish(f"{self.names.socket_io_key}#/#{room}#", message)
        except Exception as err:  # noqa: BLE001 - an outage must not end the attempt
            self.log.warn("job event not published; subscribers resync from the job's state",
                          jobId=record["id"], error=str(err))
