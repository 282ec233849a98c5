"""Self-renewing locks: a lock with a short time to live, renewed by a thread while its
holder is alive, so that only the holder's death (or hang past the time to live) frees it.
Used by recorded jobs (jobs.runs) and by cache_result's one-computation-at-a-time lock.

    renewal = Renewal(lambda: lock.reacquire(), every=ttl / 3)
    try:
        ...  # the work the lock protects
    finally:
        renewal.stop()
"""

import logging
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)


class Renewal:
    """Calls `renew` every `every` seconds in a daemon thread until `stop()`. A renewal that
    raises is logged and, with `give_up=True`, ends the thread (the lock then expires by
    itself); otherwise the next period tries again (a Redis back within the time to live
    keeps the lock)."""

    def __init__(
        self,
        renew: Callable[[], object],
        *,
        every: float,
        name: str = "lock",
        give_up: bool = True,
    ):
        self.renew, self.every, self.name, self.give_up = renew, every, name, give_up
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopped.wait(self.every):
            try:
                self.renew()
            except Exception as error:  # lost it, or its server is gone: nothing to renew
                logger.warning("could not renew %s: %s", self.name, error)
                if self.give_up:
                    return

    def stop(self, *, wait: bool = False) -> None:
        self.stopped.set()
        if wait:
            self.thread.join()
