# leadsync as a container: the daemon, as a non-root user, with its state on a volume.
#
#   docker build -t leadsync .
#   docker run -d --name leadsync \
#     -v leadsync-state:/var/lib/leadsync \
#     -v "$PWD/leadsync.toml:/etc/leadsync/leadsync.toml:ro" \
#     -v "$PWD/keys:/etc/leadsync/keys:ro" \
#     --env-file leadsync.env leadsync
#
# leadsync.toml: [state] path = "/var/lib/leadsync/leadsync.db" (the volume; the ledger that
# makes runs exactly-once must outlive the container), and for auth = "jwt"
# private_key_file = "/etc/leadsync/keys/server.key". Secrets (refresh tokens, client secrets,
# access tokens) come from the environment (--env-file, a secret store), never the image.
# `docker stop` sends SIGTERM: the daemon finishes the batch in flight and exits 0; give it
# time (docker stop -t 120).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LEADSYNC_CONFIG=/etc/leadsync/leadsync.toml

# A fixed uid/gid, so a volume's ownership and a Kubernetes securityContext can name it.
RUN groupadd --system --gid 10001 leadsync \
 && useradd --system --uid 10001 --gid leadsync --home-dir /var/lib/leadsync \
            --no-create-home --shell /usr/sbin/nologin leadsync \
 && install -d -o leadsync -g leadsync -m 0700 /var/lib/leadsync \
 && install -d -m 0755 /etc/leadsync

WORKDIR /src
COPY pyproject.toml README.md ./
COPY connector ./connector
COPY mappings ./mappings
RUN pip install . && rm -rf /src

WORKDIR /var/lib/leadsync
VOLUME ["/var/lib/leadsync"]
USER 10001:10001

# The daemon holds the state lock for its whole life, so "a daemon holds the lock" in
# `leadsync status --json` (no API call, no token needed) says this container's daemon is
# alive. It says nothing about the vendors: that waits for `leadsync daemon --http :8080`
# and its /healthz, which do not exist yet; switch to an HTTP check when they do.
HEALTHCHECK --interval=1m --timeout=20s --start-period=30s --retries=3 \
  CMD leadsync status --json | python -c "import json,sys; sys.exit(0 if json.load(sys.stdin)['daemon']['running'] else 1)"

STOPSIGNAL SIGTERM
CMD ["leadsync", "daemon", "--interval", "5m"]
