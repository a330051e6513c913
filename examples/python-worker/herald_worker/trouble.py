"""When this process last saw Redis fail or come back (shared/store/redis-trouble.ts). A lease that
lapsed around then is not its holder's death: its holder could not renew it either (a failover, a
restart). So a lapsed lease counts as live until the longer of LEASE_MS and TROUBLE_GRACE_MS after
the trouble, but never more than TROUBLE_CAP_MS past its expiry (trouble that never ends must not
keep a dead worker's job for ever)."""
import threading

from .store import now_ms

TROUBLE_GRACE_MS = 10_000
TROUBLE_CAP_MS = 60_000


class RedisTrouble:
    """Noted by the threads that talk to Redis on their own (lease renewer, cancel listener)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._at = 0
        self._down = False

    def failed(self) -> None:
        with self._lock:
            self._at = now_ms()
            self._down = True

    def ok(self) -> None:
        """Redis answered: if it had failed, it came back now."""
        with self._lock:
            if self._down:
                self._at = now_ms()
                self._down = False

    def last_at(self) -> int:
        with self._lock:
            return self._at


def lease_live_until(expires: int, lease_ms: int, trouble_at: int) -> int:
    """Until when a lease that expires (or expired) at `expires` counts as held."""
    grace = max(lease_ms, TROUBLE_GRACE_MS)
    return max(expires, min(trouble_at + grace, expires + TROUBLE_CAP_MS))
