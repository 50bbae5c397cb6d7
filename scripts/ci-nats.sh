#!/usr/bin/env bash
# Makes a NATS server with JetStream reachable on 127.0.0.1:4222 for the bridge suite and prints
# its URL: the one in CUSTODIA_TEST_NATS_URL if set, else the machine's own server (started if
# it is stopped, installed from Debian's packages if missing, else downloaded). Progress goes
# to stderr.
set -euo pipefail

say() { echo "ci-nats: $*" >&2; }
url="nats://127.0.0.1:4222"
version="2.10.24" # only for the download fallback

if [ -n "${CUSTODIA_TEST_NATS_URL:-}" ]; then
    echo "$CUSTODIA_TEST_NATS_URL"
    exit 0
fi

# The first line a NATS server sends is INFO {...}; it says whether JetStream is on.
info() {
    timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/4222 && IFS= read -r -t 2 line <&3 && printf "%s\n" "$line"' 2>/dev/null || true
}

find_server() {
    for candidate in nats-server /usr/sbin/nats-server /usr/bin/nats-server /usr/local/bin/nats-server; do
        if command -v "$candidate" >/dev/null 2>&1; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

if [ -z "$(info)" ]; then
    if ! server=$(find_server); then
        if command -v apt-get >/dev/null 2>&1; then
            say "installing nats-server"
            apt-get update -qq >&2 || true
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >&2 || true
        fi
        if ! server=$(find_server); then
            say "downloading nats-server v$version"
            arch=$(uname -m)
            case "$arch" in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; esac
            name="nats-server-v$version-linux-$arch"
            tmp=$(mktemp -d)
            curl -fsSL -o "$tmp/nats.tar.gz" \
                "https://github.com/nats-io/nats-server/releases/download/v$version/$name.tar.gz" >&2
            tar -xzf "$tmp/nats.tar.gz" -C "$tmp" >&2
            install -m 0755 "$tmp/$name/nats-server" /usr/local/bin/nats-server
            rm -rf "$tmp"
            server=/usr/local/bin/nats-server
        fi
    fi
    say "starting $server with JetStream on 127.0.0.1:4222"
    mkdir -p /var/lib/nats-server /var/log
    args=(-a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log)
    if command -v start-stop-daemon >/dev/null 2>&1; then
        # A pid file of its own, so that a nats-server already running elsewhere (another port,
        # no JetStream) does not count as this one.
        start-stop-daemon --start --oknodo --background --make-pidfile \
            --pidfile /run/custodia-ci-nats.pid --exec "$server" -- "${args[@]}" >&2
    else
        nohup "$server" "${args[@]}" >/dev/null 2>&1 &
    fi
    for _ in $(seq 60); do
        [ -n "$(info)" ] && break
        sleep 0.5
    done
fi

line=$(info)
if [ -z "$line" ]; then
    say "nothing answers on 127.0.0.1:4222 (see /var/log/nats-server.log)"
    exit 1
fi
if ! grep -q '"jetstream":true' <<<"$line"; then
    say "the NATS server on 127.0.0.1:4222 runs without JetStream; restart it with -js"
    exit 1
fi
echo "$url"
