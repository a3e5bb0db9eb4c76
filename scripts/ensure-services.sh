#!/usr/bin/env bash
# Makes sure PostgreSQL and Redis answer on localhost. Where one is installed but stopped it is
# started; where neither it nor a Docker engine is available, says exactly what is missing.
set -uo pipefail

PG_HOST=127.0.0.1 PG_PORT=5432 REDIS_HOST=127.0.0.1 REDIS_PORT=6379

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

pg_ready() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT"
  else
    port_open "$PG_HOST" "$PG_PORT"
  fi
}

redis_ready() {
  if command -v redis-cli >/dev/null 2>&1; then
    [ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]
  else
    port_open "$REDIS_HOST" "$REDIS_PORT"
  fi
}

wait_for() { # name check-function
  for _ in $(seq 1 60); do "$2" && return 0; sleep 0.5; done
  echo "ensure-services: $1 did not become ready within 30 s" >&2
  return 1
}

docker_engine() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

missing=()

if ! pg_ready; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "ensure-services: starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    wait_for PostgreSQL pg_ready || missing+=("PostgreSQL (installed, but it did not start)")
  elif docker_engine; then
    echo "ensure-services: starting PostgreSQL with docker compose"
    docker compose up -d postgres && wait_for PostgreSQL pg_ready || missing+=("PostgreSQL (docker compose failed)")
  else
    missing+=("PostgreSQL 15+ on $PG_HOST:$PG_PORT, user postgres (install it, e.g. 'apt install postgresql', or a Docker engine for 'docker compose up -d postgres')")
  fi
fi

if ! redis_ready; then
  if command -v redis-server >/dev/null 2>&1; then
    echo "ensure-services: starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no >/dev/null
    wait_for Redis redis_ready || missing+=("Redis (installed, but it did not start)")
  elif docker_engine; then
    echo "ensure-services: starting Redis with docker compose"
    docker compose up -d redis && wait_for Redis redis_ready || missing+=("Redis (docker compose failed)")
  else
    missing+=("Redis 7 on $REDIS_HOST:$REDIS_PORT (install it, e.g. 'apt install redis-server', or a Docker engine for 'docker compose up -d redis')")
  fi
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "ensure-services: missing:" >&2
  for m in "${missing[@]}"; do echo "  - $m" >&2; done
  exit 1
fi
echo "ensure-services: PostgreSQL and Redis are up"
