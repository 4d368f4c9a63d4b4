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

# The daemon serves /healthz on :8080 (`--http :8080`): 200 while the last good run is recent
# and the last run neither aborted, stopped at the API budget nor parked a new kind of error;
# 503 with one line per reason otherwise (the rules of `leadsync status --check`). /metrics
# on the same port is for Prometheus. python's urllib: the slim image has no curl.
HEALTHCHECK --interval=1m --timeout=20s --start-period=30s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=10).status == 200 else 1)"

EXPOSE 8080
STOPSIGNAL SIGTERM
CMD ["leadsync", "daemon", "--interval", "5m", "--http", ":8080"]
