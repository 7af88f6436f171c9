# syntax=docker/dockerfile:1
# Aegis governance server.
#
#   docker build -t aegis-server .
#   docker run --rm -p 8000:8000 --read-only --tmpfs /tmp aegis-server
#   docker run --rm -v "$PWD/examples:/policies:ro" aegis-server validate /policies/ecommerce.yaml
#
# Two stages: `build` compiles the TypeScript with the dev dependencies; the runtime stage gets the
# compiled JavaScript plus the production dependencies only, installed without install scripts.
# Everything the runtime stage adds lives under /app, so the image runs with a read-only root
# filesystem: the only writable places it needs are the /app/data volume and a tmpfs at /tmp.
# test/e2e/docker-image.test.ts reads this file and repeats the runtime stage without Docker.

FROM node:24-slim AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
COPY gen ./gen
# `npm ci` installs the dev dependencies and builds through the `prepare` script (tsc).
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund

FROM node:24-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only, no install scripts; the npm cache stays out of the image.
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY --from=build /src/dist/src ./dist/src
COPY --from=build /src/dist/gen ./dist/gen
# The default policy (the seed's CRUD policy). Replace it with a mount: -v ./my.yaml:/app/policy.yaml:ro
COPY examples/policy.yaml ./policy.yaml
# `aegis` on the PATH (bin/aegis -> the compiled CLI); /app/data belongs to the node user (uid 1000).
RUN chmod 0755 dist/src/cli/main.js \
  && mkdir -p bin data \
  && ln -s ../dist/src/cli/main.js bin/aegis \
  && chown 1000:1000 data
ENV PATH=/app/bin:$PATH
# The embedded audit store (PGlite). Set DATABASE_URL to use PostgreSQL instead (docker-compose.yaml).
ENV AEGIS_AUDIT_DB=/app/data/audit
VOLUME /app/data
# The base image's `node` user, by number so that `runAsNonRoot` checks can verify it.
USER 1000:1000
EXPOSE 8000
# No curl in the image: the CLI probes GET /health itself.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 CMD ["aegis", "healthcheck"]
ENTRYPOINT ["aegis"]
CMD ["serve", "/app/policy.yaml", "--host", "0.0.0.0", "--port", "8000"]
