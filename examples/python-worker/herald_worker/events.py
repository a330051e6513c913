"""Job events, in the Socket.IO sharded Redis adapter's own format (shared/events/sharded-room-message.ts):
a BROADCAST ClusterMessage, as JSON, which commit-job.lua SPUBLISHes on the job's events channel
`<ns>:socket.io#/#job:<id>#` with each commit (store.py). The adapter of each API instance holding a
socket in the job's room delivers it, and the API's change feed reads it for SSE streams and long
polls: every committed change is published there, once."""
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


def job_event(names, record: dict) -> str:
    """The message announcing `record` (its public view as a `job` event to the job's room)."""
    message = {
        "uid": "emitter",  # any uid but an API instance's own
        "nsp": "/",
        "type": BROADCAST,
        "data": {
            "packet": {"type": EVENT, "data": ["job", to_view(record)]},
            "opts": {"rooms": [names.job_room(record["id"])], "except": [], "flags": {}},
        },
    }
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)
