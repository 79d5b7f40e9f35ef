# hookrelay: build with the full toolchain, run with production dependencies only.
#   docker build -t hookrelay .
#   docker run -d --name hookrelay -p 8080:8080 --stop-timeout 15 -v hookrelay-data:/data \
#     -v $PWD/config.yaml:/app/config.yaml:ro -e JOURNAL_TOKEN=... hookrelay

FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles its native addon when no prebuilt binary can be fetched.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
# A small young generation and an old-generation ceiling keep the heap (and RSS) from growing
# lazily under load; see README, Performance.
ENV NODE_ENV=production \
    NODE_OPTIONS="--max-semi-space-size=4 --max-old-space-size=512" \
    HOST=0.0.0.0 \
    PORT=8080 \
    JOURNAL_PATH=/data/hookrelay.db
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json config.example.yaml ./
COPY migrations ./migrations
COPY bin ./bin
# A config that leaves journal.path at its default (./data/hookrelay.db) lands in the volume too.
RUN mkdir -p /data && chown node:node /data && ln -s /data /app/data
USER node
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# node is PID 1 and handles SIGTERM itself: it stops accepting, lets runs finish, closes the journal.
STOPSIGNAL SIGTERM
CMD ["node", "bin/hookrelay.js", "serve"]
