"""Cancellation and leases: the two threads that watch over running attempts.
 - CancelListener: SSUBSCRIBE (sharded pub/sub) to every shard's <ns>:{<tag>}:control;
   {"type":"cancel","jobId":...} aborts that job's attempt.
   Pub/sub is at-most-once, so after each (re)subscription the leases are renewed at once, which
   reads every running job's `cancelRequested` flag.
 - LeaseRenewer: every third of LEASE_MS, renew-leases.lua for all running attempts; it returns the
   jobs whose record asks for cancellation.
Both note Redis failing and coming back in RedisTrouble (trouble.py), for the lease takeover."""
import json
import threading

from redis.client import PubSub
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

# What counts as Redis trouble (trouble.py): the connection failing, not an error Redis answered.
LINK_DOWN = (RedisConnectionError, RedisTimeoutError, OSError)


class _ShardedPubSub(PubSub):
    """SSUBSCRIBE for Debian's redis-py 4.3, which predates Redis 7's sharded pub/sub: `smessage`s
    are delivered like messages, and the channels are subscribed again after a reconnect."""

    PUBLISH_MESSAGE_TYPES = (*PubSub.PUBLISH_MESSAGE_TYPES, "smessage")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sharded_channels = ()

    def ssubscribe(self, *channels):
        self.sharded_channels = channels
        for channel in channels:  # one per command: on a cluster each channel is its own slot
            self.execute_command("SSUBSCRIBE", channel)
        self.subscribed_event.set()

    def on_connect(self, connection):
        super().on_connect(connection)
        for channel in self.sharded_channels:
            self.execute_command("SSUBSCRIBE", channel)


def sharded_pubsub(redis):
    if hasattr(PubSub, "ssubscribe"):  # redis-py 5 and later have it
        return redis.pubsub(ignore_subscribe_messages=True)
    return _ShardedPubSub(redis.connection_pool, ignore_subscribe_messages=True)


class LeaseRenewer:
    def __init__(self, store, running, lease_ms: int, log, trouble):
        self.store = store
        self.running = running
        self.lease_ms = lease_ms
        self.log = log
        self.trouble = trouble
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def renew(self) -> None:
        with self._lock:
            attempts = self.running.attempts()
            try:
                cancel = self.store.renew_leases(attempts, self.lease_ms)
            except Exception as err:  # noqa: BLE001 - the next round tries again
                if isinstance(err, LINK_DOWN):
                    self.trouble.failed()
                self.log.warn("lease renewal failed", jobs=len(attempts), error=str(err))
                return
            if attempts:
                self.trouble.ok()
        for job_id in cancel:
            self.running.abort(job_id, "cancel")

    def start(self) -> None:
        threading.Thread(target=self._loop, name="lease-renewer", daemon=True).start()

    def _loop(self) -> None:
        while not self._stop.wait(max(0.1, self.lease_ms / 3000)):
            self.renew()

    def stop(self) -> None:
        self._stop.set()


class CancelListener:
    def __init__(self, redis, names, running, on_resubscribed, log, trouble):
        self.redis = redis
        self.trouble = trouble
        self.channels = [names.control_channel(k) for k in names.shards]
        self.running = running
        self.on_resubscribed = on_resubscribed
        self.log = log
        self._stop = threading.Event()
        self.ready = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._loop, name="cancel-listener", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        tries = 0
        while not self._stop.is_set():
            pubsub = sharded_pubsub(self.redis)
            try:
                pubsub.ssubscribe(*self.channels)
                self.trouble.ok()
                if tries > 0:
                    self.log.info("control channel subscription restored")
                tries = 0
                self.ready.set()
                self.on_resubscribed()  # cancels sent while we were away are only in the records
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message and message["type"] == "smessage":
                        self._handle(message["data"])
            except (RedisError, OSError) as err:
                if isinstance(err, LINK_DOWN):
                    self.trouble.failed()
                tries += 1
                if tries == 1 or tries % 20 == 0:
                    self.log.warn("control channel lost; resubscribing", error=str(err), attempt=tries)
                self._stop.wait(min(2.0, 0.1 * 2 ** min(tries, 5)))
            finally:
                try:
                    pubsub.close()
                except Exception:  # noqa: BLE001, S110 - a dead connection closes anyway
                    pass

    def _handle(self, raw) -> None:
        try:
            msg = json.loads(raw)
            if msg.get("type") == "cancel" and isinstance(msg.get("jobId"), str):
                self.running.abort(msg["jobId"], "cancel")
                return
        except (ValueError, AttributeError):
            pass
        self.log.warn("ignoring a malformed control message")
