"""Guards around one kombu bug that kills workers when Redis goes away and comes back.

When the broker connection drops, the worker closes its channel; kombu's Redis QoS then
uses that closed channel (whose transport has no client any more) to put unacknowledged
messages back, and later to ack the late-ack tasks that finish after the reconnection:
AttributeError ("'NoneType' object has no attribute 'hostname'" / "'client'"),
"Unrecoverable error", and the worker exits or hangs instead of carrying on (the class of
celery/kombu issues #582, #970, #8030; seen here with celery 5.7.0 / kombu 5.7.0 and
reproduced by tests/test_faults.py).

Skipping those calls on a dead channel loses nothing: the messages are still in Redis's
unacked hash, the visibility timeout returns them to their queues, and every task is
idempotent (the reconcile jobs catch up on anything else).
"""

import logging
from functools import wraps

from kombu.transport import redis as kombu_redis

logger = logging.getLogger(__name__)


def _channel_gone(qos) -> bool:
    transport = qos.channel.connection
    return transport is None or transport.client is None


def _skip_on_dead_channel(method):
    @wraps(method)
    def guarded(self, *args, **kwargs):
        if _channel_gone(self):
            logger.warning(
                "%s on a channel closed by a lost broker connection: skipped; the message "
                "returns to its queue after the visibility timeout",
                method.__name__,
            )
            if method.__name__ == "restore_unacked":
                self._delivered.clear()
            return None
        return method(self, *args, **kwargs)

    return guarded


for _name in ("restore_unacked", "ack", "reject"):
    setattr(kombu_redis.QoS, _name, _skip_on_dead_channel(getattr(kombu_redis.QoS, _name)))
