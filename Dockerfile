# gpt3dev: one executable plus ONNX Runtime's two native files and the demo models.
#   docker build -t gpt3dev .
#   docker run -p 7860:7860 -v /srv/models:/app/models gpt3dev

# --- build: the README's and .ci/run's commands (`bun run test` starts with this build), with only Node.js and npm ---
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json bun.lock bunfig.toml .npmrc ./
RUN npx --yes bun@1.4.5 install --frozen-lockfile
# Only what the build reads (keeps host node_modules/, dist/ and models/ out).
COPY tsconfig.json build.ts ./
COPY scripts ./scripts
COPY src ./src
RUN npx --yes bun@1.4.5 run build

# --- run: the executable needs glibc and libstdc++, both in debian-slim ---
FROM debian:bookworm-slim
RUN useradd --uid 10001 --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin gpt3dev
WORKDIR /app
COPY --from=build /src/dist/ /app/
ENV ORT_DISABLE_TELEMETRY=1
# `docker stop` sends SIGKILL 10 s after SIGTERM: requests in flight get 8 s to finish. For a longer grace period
# raise both, e.g. `docker run --stop-timeout 40 -e GPT3DEV_SHUTDOWN_GRACE_SECONDS=30 …`.
ENV GPT3DEV_SHUTDOWN_GRACE_SECONDS=8
USER gpt3dev
EXPOSE 7860
VOLUME /app/models
# No curl in slim images: bash's /dev/tcp sends the request.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/7860 && printf 'GET /healthz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["/app/gpt3dev"]
CMD ["--port", "7860", "--host", "0.0.0.0"]
