"""A Herald worker in Python: the worker protocol of docs/worker-protocol.md on Debian's
python3-pika (AMQP) and python3-redis, with the state transitions done by Herald's own Lua
scripts (shared/store/scripts/*.lua), so no compare-and-set is reimplemented here."""
