"""A guard around a kombu bug that kills workers when Redis goes away and comes back.

Seen here (kombu 5.7.0, celery 5.7.0, the Redis-outage test in a CI run): a task's ack
failed as Redis went down, so its message stayed in the channel's unacked set; Celery's
handling of the lost connection (`Connection.collect()`, then `release()`) clears the
transport's client and the channel's pools, then closes the channel, whose QoS restores the
unacked messages through that transport: `AttributeError: 'NoneType' object has no
attribute 'hostname'`, "Unrecoverable error", and the worker exits. The same class of
failure: https://github.com/celery/kombu/issues/970,
https://github.com/celery/celery/issues/8030, https://github.com/celery/celery/issues/10205
(https://github.com/celery/kombu/pull/2007 fixed another path of it).

`worker_cancel_long_running_tasks_on_connection_loss` (on, in settings) stops the late-ack
tasks still running when the connection goes; it cannot help a message whose ack was
already lost, which is this case. Skipping the restore (and an ack or reject) on a channel
whose transport is gone loses nothing: the message is still in Redis's unacked hash and the
visibility timeout returns it to its queue; every task is idempotent.

Applied to the kombu versions known to need it (up to 5.7.0, the one pinned): on an upgrade
the guard is off, and `tests/test_faults.py -k dead_channel` says whether it is still needed.
"""

import logging
from functools import wraps

import kombu
from kombu.transport import redis as kombu_redis

logger = logging.getLogger(__name__)

NEEDED_UP_TO = (5, 7, 0)
#: The QoS methods as kombu defines them (the tests call them to show the failure).
UNGUARDED = {name: getattr(kombu_redis.QoS, name) for name in ("restore_unacked", "ack", "reject")}


def _transport_gone(qos) -> bool:
    transport = qos.channel.connection
    return transport is None or transport.client is None


def _skip_on_dead_channel(method):
    @wraps(method)
    def guarded(self, *args, **kwargs):
        if _transport_gone(self):
            logger.warning(
                "%s on a channel whose broker connection is gone: skipped; the message "
                "returns to its queue after the visibility timeout",
                method.__name__,
            )
            if method.__name__ == "restore_unacked":
                self._delivered.clear()
            return None
        return method(self, *args, **kwargs)

    return guarded


def needed(version=kombu.VERSION) -> bool:
    return (version.major, version.minor, version.micro) <= NEEDED_UP_TO


if needed():
    for _name, _method in UNGUARDED.items():
        setattr(kombu_redis.QoS, _name, _skip_on_dead_channel(_method))
