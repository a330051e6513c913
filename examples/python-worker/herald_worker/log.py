"""One JSON line per log entry on stderr, like Herald's pino logs."""
import json
import sys
import threading
import time

_LEVELS = {"debug": 20, "info": 30, "warn": 40, "error": 50, "silent": 100}


class Logger:
    def __init__(self, level: str = "info", **bindings):
        self.threshold = _LEVELS[level]
        self.bindings = bindings
        self._lock = threading.Lock()

    def _write(self, level: str, msg: str, fields) -> None:
        if _LEVELS[level] < self.threshold:
            return
        entry = {"level": _LEVELS[level], "time": int(time.time() * 1000), **self.bindings, **fields, "msg": msg}
        with self._lock:
            sys.stderr.write(json.dumps(entry, default=str) + "\n")
            sys.stderr.flush()

    def debug(self, msg, **fields):
        self._write("debug", msg, fields)

    def info(self, msg, **fields):
        self._write("info", msg, fields)

    def warn(self, msg, **fields):
        self._write("warn", msg, fields)

    def error(self, msg, **fields):
        self._write("error", msg, fields)
