"""The AMQP side (pika's BlockingConnection): consume the jobs queue with a prefetch and manual acks,
run each delivery on a thread of its own, settle it on the connection's thread (pika is not
thread-safe: add_callback_threadsafe), and publish retries into Herald's retry tier queues."""
import json
import re
import threading
import time
import uuid

import pika
from pika.exceptions import AMQPError, ChannelClosedByBroker

from .attempt import Attempt, owned_by
from .config import StartupError
from .control import LINK_DOWN
from .jobs import Abort, problem
from .names import retry_tier
from .store import TERMINAL, now_iso, now_ms
from .trouble import lease_live_until

# How long a job of a type this worker does not serve waits before it is offered again (shared/worker/unrunnable.ts passOnDelayMs).
PASS_ON_DELAY_MS = 1_000

_UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", re.I)


def amqp_parameters(url: str) -> pika.URLParameters:
    params = pika.URLParameters(url)
    if "heartbeat=" not in url:
        params.heartbeat = 15
    return params


class Delivery:
    """One received message. Settled exactly once; settling after its connection died is a no-op
    (the broker gives the message to another consumer)."""

    def __init__(self, connection, channel, method, properties, body):
        self._connection = connection
        self._channel = channel
        self._tag = method.delivery_tag
        self._settled = threading.Event()
        self.redelivered = bool(method.redelivered)
        self.headers = dict(properties.headers or {})
        self.body = body

    def ack(self):
        self._settle(lambda: self._channel.basic_ack(self._tag))

    def dead_letter(self):
        self._settle(lambda: self._channel.basic_nack(self._tag, requeue=False))

    def requeue(self):
        self._settle(lambda: self._channel.basic_nack(self._tag, requeue=True))

    def _settle(self, fn):
        if self._settled.is_set():
            return
        self._settled.set()

        def run():
            if self._channel.is_open:
                fn()

        try:
            self._connection.add_callback_threadsafe(run)
        except Exception:  # noqa: BLE001, S110 - connection gone: the broker requeued the message
            pass


class RetryPublisher:
    """Publishes a retry with a publisher confirm, on a short-lived connection of its own (retries
    are rare, and a job thread must not touch the consumer's connection)."""

    def __init__(self, config, names):
        self.params = amqp_parameters(config.amqp_url)
        self.names = names

    def publish_retry(self, body: bytes, delay_ms: int, headers: dict) -> None:
        connection = pika.BlockingConnection(self.params)
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            message_id = json.loads(body)["jobId"]
            properties = pika.BasicProperties(
                delivery_mode=2,
                content_type="application/json",
                message_id=message_id,
                expiration=str(max(0, int(delay_ms))),
                headers=headers,
            )
            # Default exchange, routed by queue name; the tier dead-letters it back to the jobs
            # exchange once its per-message TTL (the exact delay) is up.
            queue = self.names.retry_queue(retry_tier(delay_ms))
            channel.basic_publish("", queue, body, properties, mandatory=True)  # raises unless confirmed
        finally:
            connection.close()


class Consumer:
    def __init__(self, deps, job_types: dict, on_consuming=lambda: None, on_stopping=lambda: None):
        self.deps = deps  # .config .names .store .queue .log .running .stopping .giving_up
        self.job_types = job_types
        self.on_consuming = on_consuming
        self.on_stopping = on_stopping
        self._threads = set()
        self._threads_lock = threading.Lock()

    # --- the connection (main thread) ---

    def run(self) -> None:
        """Consumes until deps.stopping is set, reconnecting with backoff; then shuts down in order."""
        cfg, log = self.deps.config, self.deps.log
        first_deadline = time.monotonic() + cfg.connect_timeout_ms / 1000
        connected_once = False
        tries = 0
        while not self.deps.stopping.is_set():
            try:
                connection = pika.BlockingConnection(amqp_parameters(cfg.amqp_url))
            except AMQPError as err:
                tries += 1
                if not connected_once and time.monotonic() > first_deadline:
                    raise StartupError(f"cannot reach RabbitMQ: {err!r}") from err
                log.warn("cannot reach RabbitMQ; retrying", attempt=tries, error=repr(err))
                self.deps.stopping.wait(min(5.0, 0.2 * 2 ** min(tries, 5)))
                continue
            connected_once, tries = True, 0
            try:
                channel = self._open_consumer(connection)
                if channel is None:
                    continue
                log.info("consuming", queue=self.deps.names.jobs_queue, prefetch=cfg.prefetch)
                self.on_consuming()
                while not self.deps.stopping.is_set():
                    connection.process_data_events(time_limit=0.5)
                self._shut_down(connection, channel)
                return
            except AMQPError as err:
                log.warn("lost the RabbitMQ connection; reconnecting", error=repr(err))
                self.deps.stopping.wait(0.5)
            finally:
                if connection.is_open:
                    try:
                        connection.close()
                    except AMQPError:
                        pass

    def _open_consumer(self, connection):
        """The jobs queue is Herald's (declared by the API with its arguments): wait until it exists."""
        names, cfg = self.deps.names, self.deps.config
        while not self.deps.stopping.is_set():
            channel = connection.channel()
            try:
                channel.queue_declare(names.jobs_queue, passive=True)
            except ChannelClosedByBroker as err:
                if err.reply_code != 404:
                    raise
                self.deps.log.warn("the jobs queue does not exist yet; waiting for Herald's API to declare it",
                                   queue=names.jobs_queue)
                connection.sleep(1.0)
                continue
            channel.basic_qos(prefetch_count=cfg.prefetch)
            channel.basic_consume(names.jobs_queue, self._on_message, auto_ack=False)
            return channel
        return None

    def _on_message(self, channel, method, properties, body):
        delivery = Delivery(channel.connection, channel, method, properties, body)
        t = threading.Thread(target=self._process_safely, args=(delivery,), daemon=True)
        with self._threads_lock:
            self._threads.add(t)
        t.start()

    def _busy(self) -> bool:
        with self._threads_lock:
            self._threads = {t for t in self._threads if t.is_alive()}
            return bool(self._threads)

    def _shut_down(self, connection, channel):
        """Stop taking messages; let running jobs finish within the grace period, then abort the rest
        (they are handed back), and keep settling until every delivery thread is done."""
        log = self.deps.log
        try:
            for tag in list(channel.consumer_tags):
                channel.basic_cancel(tag)
        except AMQPError as err:
            log.warn("cancelling the consumer failed", error=repr(err))
        self.on_stopping()  # takes no new jobs: no longer counts as serving its types
        grace = time.monotonic() + self.deps.config.shutdown_grace_ms / 1000
        while self._busy() and time.monotonic() < grace:
            connection.process_data_events(time_limit=0.1)
        if self._busy():
            self.deps.running.abort_all("shutdown", "worker shutting down")
            self.deps.giving_up.set()
            while self._busy():
                connection.process_data_events(time_limit=0.1)
        connection.process_data_events(time_limit=0.2)  # the last settlements
        channel.close()

    # --- one delivery (its own thread) ---

    def _process_safely(self, d: Delivery) -> None:
        try:
            self._process(d)
        except Exception as err:  # noqa: BLE001 - never lose a message to a bug: hand it back
            self.deps.log.error("delivery handler failed; requeueing", error=repr(err))
            time.sleep(1)
            d.requeue()

    def _process(self, d: Delivery) -> None:
        log = self.deps.log
        if self.deps.giving_up.is_set():
            return d.requeue()  # arrived after the shutdown grace ran out: for another worker
        msg, reason = parse_message(d.body)
        if msg is None:
            log.warn("dead-lettering an invalid message", reason=reason)
            job_id = _job_id_of(d.body)
            if job_id:
                self._fail_unrunnable(job_id, "invalid-message", "The queued message for this job is invalid", reason)
            return d.dead_letter()
        job_id, type_name = msg["jobId"], msg["type"]
        job_type = self.job_types.get(type_name)
        if job_type is None:
            return self._pass_on(d, job_id, type_name)
        invalid = job_type.validate(msg["payload"])
        if invalid:
            log.warn("dead-lettering a job with an invalid payload", jobId=job_id, type=type_name)
            self._fail_unrunnable(job_id, "invalid-message", "The queued message for this job is invalid",
                                  f"payload invalid: {invalid}")
            return d.dead_letter()
        try:
            kind, value = self._begin(job_id, job_type, d.redelivered)
        except Exception as err:  # noqa: BLE001 - Redis away: try again later
            if isinstance(err, LINK_DOWN):
                self.deps.trouble.failed()
            log.warn("state store unavailable; requeueing the job", jobId=job_id, error=str(err))
            time.sleep(1)
            return d.requeue()
        if kind == "leased":
            # Another worker holds the job, or held it and died (RabbitMQ redelivers at once, a lease
            # lapses only later): hand the message back once the lease is due.
            log.warn("job is leased by another worker; requeueing its message when the lease is due", jobId=job_id)
            time.sleep((min(self.deps.config.lease_ms, max(0, value - now_ms())) + 100) / 1000)
            return d.requeue()
        if kind == "duplicate":
            log.info("dropping a second copy of a running job's message", jobId=job_id)
            return d.ack()
        if kind == "ended":
            return d.dead_letter() if value == "failed" else d.ack()
        job = value
        abort = Abort()
        running = self.deps.running
        running.add(job_id, job["attemptId"], abort)
        if self.deps.giving_up.is_set():
            abort.fire("shutdown", "worker shutting down")  # began as the grace ran out: hand it back
        try:
            Attempt(self.deps, d, job, job_type, msg["payload"], abort).run()
        finally:
            running.remove(job_id, job["attemptId"])

    def _pass_on(self, d: Delivery, job_id, type_name):
        """A job of a type this worker does not serve is another worker's (every worker of a namespace
        consumes the one jobs queue): publish it again after PASS_ON_DELAY_MS (confirmed before the
        ack) for one that serves it; drop it once its job has ended; dead-letter it if there is no
        such job (shared/worker/unrunnable.ts passOn)."""
        try:
            current = self.deps.store.get(job_id)
            if current is None:
                self.deps.log.warn("dead-lettering a message for a job that does not exist", jobId=job_id)
                return d.dead_letter()
            if current["status"] not in TERMINAL:
                self.deps.log.debug("passing on a job of a type this worker does not serve",
                                    jobId=job_id, type=type_name)
                self.deps.queue.publish_retry(d.body, PASS_ON_DELAY_MS, d.headers)
            return d.ack()
        except Exception as err:  # noqa: BLE001 - Redis or RabbitMQ away: hand it back a little later
            self.deps.log.warn("could not pass on a job of a type this worker does not serve; requeueing it",
                               jobId=job_id, error=str(err))
            time.sleep(PASS_ON_DELAY_MS / 1000)
            return d.requeue()

    def _begin(self, job_id, job_type, redelivered):
        """Takes the job for a new attempt with a fresh fencing token (shared/worker/begin-attempt.ts beginAttempt)."""
        store, lease_ms = self.deps.store, self.deps.config.lease_ms
        current = store.get(job_id)
        if current is None or current["status"] in TERMINAL:
            self.deps.log.info("skipping a message whose job is gone or finished", jobId=job_id)
            return "ended", current and current["status"]
        if current["status"] == "running":
            expires = store.lease_expires_at(job_id)
            # A lease that lapsed while Redis was in trouble is not a dead holder (trouble.py).
            live = None if expires is None else lease_live_until(expires, lease_ms, self.deps.trouble.last_at())
            if live is not None and live > now_ms():
                return ("leased", live) if redelivered else ("duplicate", None)
        store.hold_lease(job_id, lease_ms)  # before `running`: nobody sees it running without a lease
        attempt_id = str(uuid.uuid4())
        raced = []
        now = now_iso()

        def change(cur):
            if cur["status"] in TERMINAL:
                return None
            if cur["status"] == "running" and cur["version"] != current["version"]:
                raced.append(True)  # another delivery started it since we read it: that run goes on
                return None
            if cur.get("cancelRequested"):
                return {"status": "canceled", "finishedAt": now}
            if cur["attempts"] >= job_type.retry.max_attempts:
                detail = f"gave up after {cur['attempts']} attempts; the last did not finish (its worker died?)"
                return {"status": "failed", "finishedAt": now,
                        "error": problem("attempts-exhausted", "The job did not finish within its attempts",
                                         detail, cur["attempts"])}
            return {"status": "running", "attempts": cur["attempts"] + 1, "attemptId": attempt_id,
                    "startedAt": now, "retryAt": None}

        begun = store.transition(job_id, change, known=current)  # announced with the commit
        if raced:
            return ("leased", now_ms() + lease_ms) if redelivered else ("duplicate", None)
        if begun and owned_by(begun, attempt_id):
            return "run", begun
        ended = begun or store.get(job_id)
        store.release_lease(job_id, (ended or {}).get("attemptId", ""))  # goes if the job ended or is gone
        return "ended", ended and ended["status"]

    def _fail_unrunnable(self, job_id, kind, title, detail):
        """A message that can never run: end its job `failed` so nobody waits forever."""
        try:
            self.deps.store.transition(
                job_id,
                lambda cur: None if cur["status"] in TERMINAL else {
                    "status": "failed", "finishedAt": now_iso(), "error": problem(kind, title, detail, cur["attempts"])},
            )
        except Exception as err:  # noqa: BLE001 - logged; the sweeper ends it if it runs
            self.deps.log.warn("could not mark an unrunnable job failed", jobId=job_id, error=str(err))


def parse_message(body: bytes):
    """The job message (shared/jobs/schemas.ts JobMessage): exactly {v: 1, jobId, type, payload}."""
    try:
        raw = json.loads(body)
    except ValueError:
        return None, "message is not JSON"
    if not isinstance(raw, dict) or set(raw) != {"v", "jobId", "type", "payload"}:
        return None, "message does not have exactly the fields v, jobId, type, payload"
    if raw["v"] != 1:
        return None, f"unknown message version {raw['v']!r}"
    if not (isinstance(raw["jobId"], str) and _UUID4.match(raw["jobId"])):
        return None, "jobId is not a UUIDv4"
    if not (isinstance(raw["type"], str) and 1 <= len(raw["type"]) <= 100):
        return None, "type is not a string of 1 to 100 characters"
    if not isinstance(raw["payload"], dict):
        return None, "payload is not an object"
    return raw, None


def _job_id_of(body: bytes):
    try:
        job_id = json.loads(body).get("jobId")
    except (ValueError, AttributeError):
        return None
    return job_id if isinstance(job_id, str) and _UUID4.match(job_id) else None

