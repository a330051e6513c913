"""Starts a worker for the given job types: connects, announces the types, and consumes until
SIGTERM or SIGINT, then stops in order (stop consuming, let running jobs finish within
SHUTDOWN_GRACE_MS, hand back the rest, withdraw the announcement, close)."""
import signal
import threading
import time
from types import SimpleNamespace

import redis

from .attempt import RunningJobs
from .config import StartupError, load_config
from .consumer import Consumer, RetryPublisher
from .control import CancelListener, LeaseRenewer
from .log import Logger
from .names import Names, load_shard_tags
from .registry import Announcer
from .store import Store
from .trouble import RedisTrouble


def run_worker(job_types, env=None) -> None:
    config = load_config(env) if env is not None else load_config()
    log = Logger(config.log_level, component="python-worker", instanceId=config.instance_id)
    names = Names(config.namespace, load_shard_tags(config.scripts_dir))
    r = redis.Redis.from_url(
        config.redis_url, decode_responses=True, health_check_interval=10, socket_keepalive=True,
        socket_connect_timeout=5, retry_on_timeout=True,
    )
    _wait_for_redis(r, config, log)
    store = Store(r, names, config.job_ttl_seconds, config.scripts_dir)
    running = RunningJobs()
    trouble = RedisTrouble()
    deps = SimpleNamespace(
        config=config,
        names=names,
        log=log,
        store=store,
        queue=RetryPublisher(config, names),
        running=running,
        trouble=trouble,
        stopping=threading.Event(),
        giving_up=threading.Event(),
    )
    by_name = {t.name: t for t in job_types}
    renewer = LeaseRenewer(store, running, config.lease_ms, log, trouble)
    cancels = CancelListener(r, names, running, renewer.renew, log, trouble)
    announcer = Announcer(r, names, log, config.instance_id, config.job_type_ttl_ms, [t.definition() for t in job_types])

    def stop(signum, _frame):
        log.info("stopping", signal=signal.Signals(signum).name)
        deps.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    renewer.start()
    cancels.start()
    cancels.ready.wait(10)
    log.info("python worker starting", namespace=config.namespace, types=sorted(by_name))
    try:
        # Announced once it consumes: a worker that cannot reach RabbitMQ serves nothing.
        Consumer(deps, by_name, on_consuming=announcer.start, on_stopping=announcer.withdraw).run()
    finally:
        announcer.withdraw()
        renewer.stop()
        cancels.stop()
        r.close()
        log.info("python worker stopped")


def _wait_for_redis(r, config, log) -> None:
    """Like Herald: retry the first connection with backoff for up to CONNECT_TIMEOUT_MS."""
    deadline = time.monotonic() + config.connect_timeout_ms / 1000
    tries = 0
    while True:
        try:
            r.ping()
            return
        except redis.exceptions.ConnectionError as err:
            tries += 1
            if time.monotonic() > deadline:
                raise StartupError(f"cannot reach Redis at {config.redis_url.split('@')[-1]}: {err}") from err
            log.error("cannot reach Redis; retrying", attempt=tries, error=str(err))
            time.sleep(min(5.0, 0.2 * 2 ** min(tries, 5)))
