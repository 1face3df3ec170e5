# syntax=docker/dockerfile:1
# Switchyard: staged so that the image holds production dependencies and compiled
# JavaScript only. Build: docker build -t switchyard .   Run: docker run -p 8080:8080 -p 8081:8081 switchyard
# (8081: the Open Inference Protocol over gRPC)
# Mount your own models and routes with -v ./models:/app/models:ro -v ./routes.yaml:/app/routes.yaml:ro
# --ulimit nice=20 lets the user below hurry the idle writer and mirror threads when they must not wait

# better-sqlite3 (the inference log) compiles when no prebuilt binary can be fetched
FROM node:24-slim AS toolchain
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# onnxruntime-node's install step would download CUDA binaries a CPU gateway does not need;
# npm 11 skips it anyway (package.json allowScripts), this covers an npm that does not know that
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json ./

FROM toolchain AS deps
RUN npm ci --omit=dev

FROM toolchain AS build
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# the gRPC service's definition, read at run time from beside dist/ (src/grpc/service.ts)
COPY proto ./proto
COPY package.json routes.yaml README.md ./
COPY docs ./docs
COPY models ./models
COPY dashboard ./dashboard
RUN mkdir -p data && chown node:node data
# the inference log (SQLite), its journal and its spill files; or --store postgres://... for replicas
VOLUME /app/data
USER node
EXPOSE 8080 8081
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/v2/health/ready').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/cli.js", "serve"]
