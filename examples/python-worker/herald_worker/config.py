"""One config object: Herald's environment variables with Herald's defaults (shared/runtime/config.ts),
read once, checked, fail fast. Empty strings count as unset, as in Herald."""
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path

# The scripts (and shards.json, the shard tags of the key layout) live in Herald's source tree; a
# worker elsewhere points HERALD_SCRIPTS_DIR at a copy.
_DEFAULT_SCRIPTS = Path(__file__).resolve().parents[3] / "shared" / "store" / "scripts"


class ConfigError(ValueError):
    pass


class StartupError(RuntimeError):
    """A broker stayed unreachable for CONNECT_TIMEOUT_MS at start."""


@dataclass(frozen=True)
class Config:
    amqp_url: str
    redis_url: str
    namespace: str
    instance_id: str
    prefetch: int
    lease_ms: int
    stall_timeout_ms: int
    job_ttl_seconds: int
    result_limit_bytes: int
    shutdown_grace_ms: int
    job_type_ttl_ms: int
    connect_timeout_ms: int
    scripts_dir: Path
    log_level: str


def load_config(env=os.environ) -> Config:
    e = {k: v for k, v in env.items() if v != ""}
    errors = []

    def integer(name, default, lo, hi):
        raw = e.get(name)
        if raw is None:
            return default
        if not re.fullmatch(r"\d+", raw) or not lo <= int(raw) <= hi:
            errors.append(f"  {name}: expected an integer from {lo} to {hi}, got {raw!r}")
            return default
        return int(raw)

    namespace = e.get("HERALD_NAMESPACE", "herald")
    if not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}", namespace):
        errors.append(f"  HERALD_NAMESPACE: letters, digits, . _ - (max 64), got {namespace!r}")
    amqp_url = e.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672")
    if not amqp_url.startswith("amqp"):
        errors.append("  AMQP_URL: must start with amqp")
    redis_url = e.get("REDIS_URL", "redis://127.0.0.1:6379")
    if not redis_url.startswith("redis"):
        errors.append("  REDIS_URL: must start with redis")
    log_level = e.get("LOG_LEVEL", "info")
    if log_level not in ("debug", "info", "warn", "error", "silent"):
        errors.append(f"  LOG_LEVEL: one of debug, info, warn, error, silent; got {log_level!r}")
    config = Config(
        amqp_url=amqp_url,
        redis_url=redis_url,
        namespace=namespace,
        instance_id=e.get("INSTANCE_ID", f"{socket.gethostname()}-{os.getpid()}"),
        prefetch=integer("WORKER_PREFETCH", 4, 1, 1000),
        lease_ms=integer("LEASE_MS", 30_000, 300, 3_600_000),
        stall_timeout_ms=integer("STALL_TIMEOUT_MS", 5 * 60_000, 100, 24 * 3_600_000),
        job_ttl_seconds=integer("JOB_TTL_SECONDS", 24 * 3600, 1, 365 * 24 * 3600),
        result_limit_bytes=integer("RESULT_LIMIT_BYTES", 1024 * 1024, 1, 64 * 1024 * 1024),
        shutdown_grace_ms=integer("SHUTDOWN_GRACE_MS", 10_000, 0, 3_600_000),
        job_type_ttl_ms=integer("JOB_TYPE_TTL_MS", 30_000, 300, 24 * 3_600_000),
        connect_timeout_ms=integer("CONNECT_TIMEOUT_MS", 30_000, 0, 3_600_000),
        scripts_dir=Path(e.get("HERALD_SCRIPTS_DIR", str(_DEFAULT_SCRIPTS))),
        log_level=log_level,
    )
    if not (config.scripts_dir / "commit-job.lua").is_file():
        errors.append(f"  HERALD_SCRIPTS_DIR: no commit-job.lua in {config.scripts_dir}")
    elif not (config.scripts_dir / "shards.json").is_file():
        errors.append(f"  HERALD_SCRIPTS_DIR: no shards.json in {config.scripts_dir}")
    if errors:
        raise ConfigError("invalid configuration:\n" + "\n".join(errors))
    return config
