# llm-runner itself (the control plane: gateway, supervisor, CLI), for hosts that run their services in containers.
# Build from the repository root:  docker build -t llm-runner:0.1.0 .
# It starts the engine container through the host's Docker socket (DRIVER=docker, the default), so run it on the
# host's network with the socket and MODEL_DIR mounted at the same path as on the host: deploy/compose.yaml.
# ENGINE=sim DRIVER=process runs the simulator inside it (no GPU, no socket): a quick check of an install.
FROM node:20-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-slim
# python3: the simulator engine (ENGINE=sim DRIVER=process); tini: signals reach node, zombies are reaped.
RUN apt-get update && apt-get install -y --no-install-recommends python3 tini && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/llm-runner
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY runtime/llm_runtime ./runtime/llm_runtime
ENV HOST=0.0.0.0 \
    PORT=8000 \
    LLM_RUNNER_HOME=/var/lib/llm-runner \
    NODE_ENV=production
VOLUME /var/lib/llm-runner
EXPOSE 8000
# SIGTERM drains in-flight requests (after unregistering from a Live Runner orchestrator), then stops the engines.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/health').then(r=>r.json()).then(b=>process.exit(b.status==='ERROR'?1:0),()=>process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/opt/llm-runner/dist/cli/main.js"]
CMD ["start"]
