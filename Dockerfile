# hookrelay in Docker: the single binary (npm run build:binary; Node 24 inside) on Debian.
#   docker compose up -d            (compose.yaml: the volume, the config, the token)
# or by hand:
#   docker build -t hookrelay .
#   docker run -d --name hookrelay -p 8080:8080 --stop-timeout 15 --restart unless-stopped \
#     -v hookrelay-data:/data -v "$PWD/config.yaml:/app/config.yaml:ro" -e JOURNAL_TOKEN=... hookrelay
# Commands run in the container the same way: docker exec hookrelay hookrelay urls
# (see docs/deploy.md). What the image runs is what test/deploy/binary.test.ts tests.

FROM node:24-bookworm-slim AS build
# node-gyp compiles better-sqlite3's addon for the binary (and for npm ci, if no prebuilt is fetched).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# npm ci builds dist/ at install (postinstall), from these.
COPY package.json package-lock.json ./
COPY scripts ./scripts
COPY src ./src
COPY migrations ./migrations
RUN npm ci --no-audit --no-fund
RUN npm run build:binary

FROM debian:bookworm-slim
# The binary needs glibc 2.34+ and libstdc++ (bookworm has 2.36 and GCC 12's); Node and its
# certificate store are inside. uid 1000, as the `node` user of the earlier Node image: a
# hookrelay-data volume from it stays writable.
RUN useradd --system --uid 1000 --user-group --home-dir /data --no-create-home hookrelay \
 && mkdir -p /app /data /var/cache/hookrelay \
 && chown hookrelay:hookrelay /data /var/cache/hookrelay \
 && chmod 0700 /data \
 && chmod 0700 /var/cache/hookrelay \
 && ln -s /data /app/data
COPY --from=build /src/dist/hookrelay /usr/local/bin/hookrelay
COPY config.example.yaml /app/
# HOST/PORT/JOURNAL_PATH are read by the config (config.example.yaml shows how); a config that
# keeps journal.path at its default ./data/hookrelay.db lands in the volume too (/app/data).
# CACHE_DIRECTORY is where the binary puts its SQLite library before loading it.
ENV HOST=0.0.0.0 \
    PORT=8080 \
    JOURNAL_PATH=/data/hookrelay.db \
    CACHE_DIRECTORY=/var/cache/hookrelay
WORKDIR /app
USER hookrelay
VOLUME ["/data"]
EXPOSE 8080
# Asks /healthz at the host and port the config listens on (not only $PORT).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["hookrelay", "health"]
# hookrelay is PID 1 and handles SIGTERM itself: it stops accepting, lets runs finish, closes the journal.
STOPSIGNAL SIGTERM
ENTRYPOINT ["hookrelay"]
CMD ["serve"]
