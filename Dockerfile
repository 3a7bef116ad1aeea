# syntax=docker/dockerfile:1
# The headless Dagwood image: the CLI (dagwood run, step, serve, predict, …) with its native
# dependencies (DuckDB, onnxruntime, better-sqlite3, TensorFlow.js on WebAssembly); no Electron, no UI.
#   docker build -t dagwood:0.1.0 .
# For Argo Workflows, a project image adds the project (README, "Scaling out"):
#   FROM dagwood:0.1.0
#   COPY --chown=10001:10001 . /project
# Checked by app/argo/dockerfile.test.ts (the COPY sources, the entrypoint, the user).

ARG NODE_IMAGE=node:20-bookworm-slim

# --- The CLI bundle (dist/cli), built with the dev dependencies (esbuild) ---
FROM ${NODE_IMAGE} AS build
WORKDIR /src
# better-sqlite3 compiles its addon when no prebuilt binary fits the platform.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# No install scripts: electron's would download Electron, onnxruntime-node's CUDA libraries, and
# `prepare` would build before the sources are here. better-sqlite3's is run on its own below.
RUN npm ci --ignore-scripts --no-audit --no-fund && npm rebuild better-sqlite3
COPY tsconfig.json ./
COPY bin ./bin
COPY app ./app
COPY nodes ./nodes
RUN node bin/build.mjs --force cli

# --- The production dependencies only ---
FROM ${NODE_IMAGE} AS deps
WORKDIR /opt/dagwood
# libpq-dev: pg_config and libpq's headers, for pg-native's binding (the team store on PostgreSQL).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates libpq-dev \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
ENV ONNXRUNTIME_NODE_INSTALL=skip
# libpq's addon is built as better-sqlite3's is (pg-native loads it to reach a team store).
# Then what the CLI never loads goes (511 MB of node_modules → 257 MB, measured on linux/x64):
# Electron, an optional dependency, with the package that fetches it; the source maps (205 MB, most
# of them TensorFlow.js'); onnxruntime-node's binaries for other systems and CPUs; better-sqlite3's
# build leftovers (its sources and object files), keeping its addon.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm rebuild better-sqlite3 libpq \
 && rm -rf node_modules/electron node_modules/@electron \
 && find node_modules -name "*.map" -delete \
 && ort_arch="$(case "$(uname -m)" in aarch64) echo arm64;; *) echo x64;; esac)" \
 && find node_modules/onnxruntime-node/bin -mindepth 2 -maxdepth 2 -type d ! -name linux -exec rm -rf {} + \
 && find node_modules/onnxruntime-node/bin -mindepth 3 -maxdepth 3 -type d ! -name "$ort_arch" -exec rm -rf {} + \
 && rm -rf node_modules/libpq/build/Release/obj.target \
 && rm -rf node_modules/better-sqlite3/deps node_modules/better-sqlite3/src \
    node_modules/better-sqlite3/build/Release/obj node_modules/better-sqlite3/build/Release/obj.target \
    node_modules/better-sqlite3/build/Release/sqlite3.a node_modules/better-sqlite3/build/Release/test_extension.node \
 && npm cache clean --force

# --- The image ---
FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /opt/dagwood
# libpq's shared library (and its TLS and Kerberos libraries), which pg-native's addon links to; no build tools.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=deps /opt/dagwood/node_modules ./node_modules
COPY --from=build /src/dist/cli ./dist/cli
COPY package.json ./
COPY bin/dagwood bin/dagwood.cjs bin/package.json bin/malloc-tuned.mjs ./bin/
# A non-root user (uid 10001, as the Argo export's securityContext says); /project holds a project, /dagwood
# the folders `dagwood step` reads and writes in an Argo pod (app/argo/workflow.ts).
RUN groupadd --system --gid 10001 dagwood \
 && useradd --system --uid 10001 --gid dagwood --create-home --home-dir /home/dagwood dagwood \
 && mkdir -p /project /dagwood/in /dagwood/out /dagwood/pipeline \
 && chown -R 10001:10001 /project /dagwood \
 && ln -s /opt/dagwood/bin/dagwood /usr/local/bin/dagwood
USER 10001:10001
WORKDIR /project
ENTRYPOINT ["node", "/opt/dagwood/bin/dagwood"]
CMD ["--help"]
