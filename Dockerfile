# syntax=docker/dockerfile:1
# qwenauth serve: an OpenAI-compatible endpoint backed by the accounts in the /data volume.
#
#   docker build -t qwenauth .
#   docker run --rm -it -v qwenauth:/data qwenauth login          # device flow: open the URL anywhere
#   export QWENAUTH_API_KEYS="$(openssl rand -hex 24)"               # the key clients will send
#   docker run -d --name qwenauth -p 127.0.0.1:8787:8787 -v qwenauth:/data -e QWENAUTH_API_KEYS qwenauth
#
# serve refuses to listen beyond loopback without a client key, so the container needs
# QWENAUTH_API_KEYS (comma-separated; clients send one as `Authorization: Bearer …`).
#
# The image holds one file, the compiled binary (no Node, no Bun install), on Debian slim.

# --- build: the single-file binary for the builder's own platform (works under buildx too) -----
FROM node:22-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# Bun comes from npm (a devDependency), like in every other build of qwenauth.
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts ./scripts
COPY src ./src
# Builds dist/qwenauth and checks that it prints package.json's version.
RUN npm run build

# --- run -----------------------------------------------------------------------------------------
FROM debian:bookworm-slim
# The binary needs only glibc; Bun carries its own TLS root certificates, so no packages are added.
RUN useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin qwenauth \
 && mkdir -p /data && chown qwenauth:qwenauth /data && chmod 700 /data
COPY --from=build /src/dist/qwenauth /usr/local/bin/qwenauth

# Accounts, the official CLI's oauth_creds.json and the lock files live here. Mount a volume
# (or a host directory owned by uid 10001) so logins survive the container.
ENV QWEN_HOME=/data
VOLUME ["/data"]
USER qwenauth
WORKDIR /data
EXPOSE 8787

# No curl in the image: a Bun-compiled binary acts as the `bun` CLI when BUN_BE_BUN=1, so the
# binary itself fetches /health (exit 0 on 2xx; 503 when no account is usable). `env` sets the variable for this command only.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["env", "BUN_BE_BUN=1", "/usr/local/bin/qwenauth", "-e", "fetch('http://127.0.0.1:8787/health').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

ENTRYPOINT ["/usr/local/bin/qwenauth"]
# All interfaces inside the container, so a published port reaches it; needs QWENAUTH_API_KEYS.
CMD ["serve", "--host", "0.0.0.0", "--port", "8787"]
