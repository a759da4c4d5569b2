#!/usr/bin/env bash
# Start what the service tests talk to, if it is not running: PostgreSQL, Redis, NATS with
# JetStream, and Debian's Chromium for the browser tests. Safe to run again.
set -uo pipefail
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
if ! up 5432 && command -v pg_ctlcluster >/dev/null; then
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
fi
if ! up 6379 && command -v redis-server >/dev/null; then
  $SUDO redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
if ! up 4222 && [ -x /usr/sbin/nats-server ]; then
  $SUDO start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
fi
if ! command -v chromium >/dev/null; then
  ($SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null) \
    || echo "services.sh: could not install chromium; browser tests will be skipped" >&2
fi
for i in $(seq 1 20); do up 5432 && up 4222 && break; sleep 0.5; done
exit 0
