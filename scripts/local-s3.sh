#!/usr/bin/env bash
# A real S3 server on loopback for the examples and the tests: Ceph's RADOS Gateway (radosgw)
# from Debian's packages, run as a one-host cluster (1 monitor, 1 in-memory OSD, no manager,
# no systemd, no Docker). Installs the packages on first use (needs root and apt), starts in a
# few seconds.
#
#   scripts/local-s3.sh start    install if needed, (re)start, print the env lines
#   scripts/local-s3.sh stop     stop what `start` started and wipe its data
#   scripts/local-s3.sh env      print `export S3_ENDPOINT=…` lines for a running server
#   scripts/local-s3.sh status   exit 0 when the gateway answers
#   scripts/local-s3.sh run -- CMD…   start, run CMD with the S3_* variables set, stop again;
#                                      stops CMD at once if the gateway dies
#
# After a failed run (or a `stop` after the gateway died) the logs are kept in $LOCAL_S3_DIR.failed.
#
# Settings (environment): LOCAL_S3_DIR (/tmp/langgraph-checkpoint-s3/rgw), LOCAL_S3_PORT (7480),
# LOCAL_S3_MON_PORT (43300; the OSD's ports follow it: LOCAL_S3_OSD_PORT_MIN, MON_PORT + 3500, a range of 100),
# LOCAL_S3_ACCESS_KEY, LOCAL_S3_SECRET_KEY, LOCAL_S3_STORE
# (memstore | bluestore), LOCAL_S3_LC_INTERVAL (seconds per lifecycle "day", 10).
set -euo pipefail

DIR=${LOCAL_S3_DIR:-/tmp/langgraph-checkpoint-s3/rgw}
PORT=${LOCAL_S3_PORT:-7480}
MON_PORT=${LOCAL_S3_MON_PORT:-43300}
MON_PORT_V1=$((MON_PORT + 1))
# the OSD binds ports in a range of 100 that follows the monitor port (46800 for the default 43300),
# so two servers with different LOCAL_S3_MON_PORT never collide
OSD_PORT_MIN=${LOCAL_S3_OSD_PORT_MIN:-$((MON_PORT + 3500))}
OSD_PORT_MAX=$((OSD_PORT_MIN + 99))
ACCESS_KEY=${LOCAL_S3_ACCESS_KEY:-local-access-key}
SECRET_KEY=${LOCAL_S3_SECRET_KEY:-local-secret-key}
STORE=${LOCAL_S3_STORE:-memstore}
LC_INTERVAL=${LOCAL_S3_LC_INTERVAL:-10}
CONF=$DIR/ceph.conf
ENDPOINT=http://127.0.0.1:$PORT
# where the logs of a failed run are kept (the data directory itself is wiped)
KEPT=$DIR.failed

say() { echo "local-s3: $*" >&2; }

print_env() {
  echo "export S3_ENDPOINT=$ENDPOINT"
  echo "export S3_ACCESS_KEY_ID=$ACCESS_KEY"
  echo "export S3_SECRET_ACCESS_KEY=$SECRET_KEY"
  echo "export S3_REGION=us-east-1"
  echo "export LOCAL_S3_LOG=$DIR/log/client.rgw.log"
}

answers() { curl -s -m 2 -o /dev/null "$ENDPOINT/"; }

# the gateway's pid while it runs (a zombie or a missing process is not running)
gateway_pid() {
  local p="$DIR/run/client.rgw.pid" pid state
  [ -f "$p" ] || return 1
  pid=$(cat "$p")
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  case "$state" in Z | X | "") return 1 ;; esac
  echo "$pid"
}

# Copies the logs out of the data directory before it is wiped, and says where they are.
keep_logs() {
  [ -d "$DIR/log" ] || return 0
  rm -rf "$KEPT" && mkdir -p "$KEPT" && cp -r "$DIR/log" "$DIR/ceph.conf" "$KEPT/" 2>/dev/null || true
  say "the gateway's log is kept in $KEPT/log/client.rgw.log (its crash report, if any, in $KEPT/log/radosgw.stdout)"
}

# The last lines of a crash report: what the gateway printed when it died.
crash_summary() {
  local out="$DIR/log/radosgw.stdout"
  [ -s "$out" ] || return 0
  # the first report only (radosgw prints it twice), with the line before it (e.g. "double free")
  if grep -q "Caught signal" "$out"; then
    awk '/Caught signal/ { n++; if (n == 1) print prev } n == 1 { print } { prev = $0 }' "$out" | head -n 24 >&2
  else
    tail -n 20 "$out" >&2
  fi
}

install_packages() {
  local missing=0
  for bin in radosgw radosgw-admin ceph-mon ceph-osd ceph ceph-authtool monmaptool uuidgen curl ss; do
    command -v "$bin" >/dev/null || missing=1
  done
  [ "$missing" = 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    say "radosgw is not installed; run as root (or install: radosgw ceph-mon ceph-osd ceph-common uuid-runtime curl iproute2)"
    exit 1
  fi
  say "installing radosgw from Debian's packages (once, ~70 MB)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends radosgw ceph-mon ceph-osd ceph-common uuid-runtime curl iproute2 >/dev/null
}

# Only PIDs from our pid files whose command line names our conf: never another cluster.
stop_daemons() {
  [ -d "$DIR/run" ] || return 0
  for name in client.rgw osd.0 mon.a; do
    local p="$DIR/run/$name.pid"
    [ -f "$p" ] || continue
    local pid; pid=$(cat "$p")
    if tr '\0' ' ' 2>/dev/null < "/proc/$pid/cmdline" | grep -q -- "$CONF"; then
      # a throwaway test cluster whose data is wiped next: no graceful shutdown (radosgw takes
      # 6 s for one), just stop it
      kill -9 "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$p"
  done
}

write_conf() {
  cat > "$CONF" <<CONF
[global]
fsid = $1
mon host = [v2:127.0.0.1:$MON_PORT,v1:127.0.0.1:$MON_PORT_V1]
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
ms bind port min = $OSD_PORT_MIN
ms bind port max = $OSD_PORT_MAX
auth cluster required = none
auth service required = none
auth client required = none
auth supported = none
# radosgw defaults to ms_mon_client_mode=secure, which cannot work with auth=none
ms mon client mode = crc secure
keyring = $DIR/keyring
run dir = $DIR/run
pid file = $DIR/run/\$name.pid
admin socket = $DIR/run/\$name.asok
log file = $DIR/log/\$name.log
mon cluster log file = $DIR/log/cluster.log
log to stderr = false
err to stderr = true
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
mon data avail warn = 2
mon data avail crit = 1
mon warn on insecure global id reclaim allowed = false
# commit map changes fast: the gateway creates several pools at start and waits for each
paxos propose interval = 0.1
paxos min wait = 0.01

[mon]
mon data = $DIR/mon.\$id

[osd]
osd data = $DIR/osd.\$id
osd objectstore = $STORE
osd crush initial weight = 1
osd crush update on start = true
memstore device bytes = 8589934592
bluestore block path = $DIR/osd.\$id/block.file
bluestore block create = true
bluestore block size = 10737418240
bluestore fsck on mount = false
osd memory target = 1073741824
bluestore cache autotune = false
bluestore cache size = 268435456

[client.rgw]
# tcp_nodelay: without it every GET and LIST answers ~40 ms late (delayed ACK on loopback)
rgw frontends = beast endpoint=127.0.0.1:$PORT tcp_nodelay=1
rgw data = $DIR/rgw
rgw dns name = localhost
rgw crypt require ssl = false
# one lifecycle "day" lasts this many seconds, so expiry rules can be tested
rgw lc debug interval = $LC_INTERVAL
rgw enable usage log = false
rgw thread pool size = 128
# one object at a time inside a DeleteObjects request: radosgw 16.2.15 deletes up to 16 objects of
# a request in parallel, and a request aborted by its client (an attempt timeout) or two requests
# deleting the same versions at once then corrupt its heap (abort or segfault in
# RGWDeleteMultiObj::handle_individual_object); measured just as fast here (~7 ms per version)
rgw multi obj del max aio = 1
# reclaim the space of deleted objects after 30 s instead of 2 h
rgw gc obj min wait = 30
rgw gc processor period = 30
CONF
}

start() {
  install_packages
  stop_daemons
  rm -rf "$DIR"
  for port in "$PORT" "$MON_PORT" "$MON_PORT_V1"; do
    if ss -Hltn "sport = :$port" | grep -q .; then
      say "port $port is in use; set LOCAL_S3_PORT / LOCAL_S3_MON_PORT"; exit 1
    fi
  done
  # a connection of a cluster stopped moments ago can still hold the monitor's ports (TIME_WAIT
  # lasts a minute), and the monitor does not bind a port anything holds: it gives up after 15 s
  # ("Address already in use"), which failed a run that started a server right after another
  local waited=0
  while ss -Htan "( sport = :$MON_PORT or sport = :$MON_PORT_V1 )" | grep -q . && [ "$waited" -lt 75 ]; do
    [ "$waited" -gt 0 ] || say "waiting for old connections to free port $MON_PORT (up to 75 s)"
    sleep 1
    waited=$((waited + 1))
  done
  mkdir -p "$DIR"/{run,log,mon.a,osd.0,rgw}
  local fsid; fsid=$(uuidgen)
  write_conf "$fsid"
  ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool "$DIR/keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
  monmaptool --create --clobber --fsid "$fsid" --addv a "[v2:127.0.0.1:$MON_PORT,v1:127.0.0.1:$MON_PORT_V1]" "$DIR/monmap" >/dev/null
  ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/keyring"
  ceph-mon -c "$CONF" -i a
  ceph -c "$CONF" --connect-timeout 30 mon stat >/dev/null

  local osd_uuid osd_id
  osd_uuid=$(uuidgen)
  osd_id=$(ceph -c "$CONF" --connect-timeout 20 osd new "$osd_uuid")
  ceph-osd -c "$CONF" -i "$osd_id" --mkfs --osd-uuid "$osd_uuid" >>"$DIR/log/osd-mkfs.log" 2>&1
  ceph-osd -c "$CONF" -i "$osd_id" 2>>"$DIR/log/osd.stderr"
  for _ in $(seq 1 120); do
    ceph -c "$CONF" --connect-timeout 5 osd dump 2>/dev/null | grep -q "^osd.$osd_id up" && break
    sleep 0.5
  done
  ceph -c "$CONF" --connect-timeout 5 osd dump | grep -q "^osd.$osd_id up" || { say "the OSD did not come up; see $DIR/log"; exit 1; }

  # foreground mode, detached: in daemon mode radosgw blocks until it reaches the monitor
  setsid radosgw -c "$CONF" -n client.rgw -f </dev/null >>"$DIR/log/radosgw.stdout" 2>&1 &
  echo $! > "$DIR/run/client.rgw.pid"
  disown $! 2>/dev/null || true
  for _ in $(seq 1 240); do answers && break; sleep 0.5; done
  answers || { say "the gateway did not answer; see $DIR/log/client.rgw.log"; exit 1; }

  radosgw-admin -c "$CONF" user create --uid=local --display-name="Local S3 user" \
    --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >/dev/null
  # the new user's keys reach the gateway's cache a moment later: wait for a signed 200
  local code=000
  for _ in $(seq 1 60); do
    code=$(curl -s -m 2 -o /dev/null -w '%{http_code}' "$ENDPOINT/" --aws-sigv4 "aws:amz:us-east-1:s3" \
      --user "$ACCESS_KEY:$SECRET_KEY" \
      -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" || true)
    [ "$code" = 200 ] && break
    sleep 0.5
  done
  [ "$code" = 200 ] || { say "a signed request with the new user failed (HTTP $code)"; exit 1; }
  print_env > "$DIR/env"
  say "up at $ENDPOINT (data in $DIR)"
  print_env
}

# Runs CMD against a fresh server and stops the server again. A watchdog stops CMD (its whole
# process group) as soon as the gateway dies, so a crash gives one message instead of hundreds of
# refused connections.
run_command() {
  # whatever happens (a failed start included), the cluster does not outlive the run, and the
  # logs of a failed run are kept
  trap 'rc=$?; if [ "$rc" != 0 ]; then keep_logs; fi; stop_daemons; rm -rf "$DIR"' EXIT
  start >/dev/null
  local rgw_pid cmd rc=0 died=0 interrupted=0
  rgw_pid=$(gateway_pid) || { say "the gateway is not running after start"; exit 1; }
  # shellcheck disable=SC1090
  source <(print_env)
  # job control: CMD gets a process group of its own, which the watchdog (and Ctrl-C) can stop whole
  set -m
  "$@" </dev/null &
  cmd=$!
  set +m
  trap 'interrupted=1; kill -TERM -- "-$cmd" 2>/dev/null' INT TERM
  while kill -0 "$cmd" 2>/dev/null; do
    if [ "$interrupted" = 0 ] && [ "$(gateway_pid)" != "$rgw_pid" ]; then
      died=1
      kill -TERM -- "-$cmd" 2>/dev/null || true
      break
    fi
    sleep 1
  done
  set +e
  wait "$cmd"
  rc=$?
  set -e
  if [ "$died" = 1 ]; then
    say "the gateway (radosgw) died during the run, so the run was stopped; what it printed:"
    crash_summary
    rc=1
  fi
  exit "$rc"
}

case "${1:-}" in
  start) start ;;
  stop)
    # a gateway that died leaves its crash report behind: keep it
    if [ -f "$DIR/run/client.rgw.pid" ] && ! gateway_pid >/dev/null; then
      say "the gateway had stopped before \`stop\`"
      crash_summary
      keep_logs
    fi
    stop_daemons
    rm -rf "$DIR"
    say "stopped"
    ;;
  env) answers || { say "not running; run: scripts/local-s3.sh start"; exit 1; }; print_env ;;
  status) answers ;;
  run)
    shift
    [ "${1:-}" = "--" ] && shift
    [ $# -gt 0 ] || { echo "usage: $0 run -- COMMAND [ARGS…]" >&2; exit 2; }
    run_command "$@"
    ;;
  *) echo "usage: $0 start|stop|env|status|run -- CMD" >&2; exit 2 ;;
esac
