# routereflector: a BGP route reflector for Calico, as a drop-in for calico/routereflector.
#   docker build -t routereflector .      (podman without a registry: scripts/container-image.sh)
#   docker run --net=host -e IP=100.64.0.50 -e ETCD_ENDPOINTS=http://etcd:2379 routereflector
# Multi-stage: the build stage has the compilers (TypeScript, node-gyp for the TCP MD5 addon); the
# runtime stage has node, the compiled JavaScript, the addon and the production dependencies only.

FROM node:24-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json binding.gyp tsconfig.json tsconfig.build.json ./
COPY native native
COPY src src
COPY config config
# npm ci builds the addon (install: node-gyp) and the JavaScript (prepare: tsc)
RUN npm ci && npm prune --omit=dev --ignore-scripts

FROM node:24-bookworm-slim
# BGP listens on port 179: the unprivileged user gets just that capability, on node itself.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libcap2-bin \
 && setcap cap_net_bind_service=+ep /usr/local/bin/node \
 && apt-get purge -y libcap2-bin && apt-get autoremove -y \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules node_modules
COPY --from=build /src/dist dist
COPY --from=build /src/build/Release/sockopt.node build/Release/sockopt.node
COPY --from=build /src/config config
# `kubectl exec POD -- routereflector status`: the CLI on PATH
RUN chmod 755 dist/cli.js && ln -s /app/dist/cli.js /usr/local/bin/routereflector
# The old image's variables (empty means unset), and ours. docs/configuration.md has them all.
ENV IP="" \
    IP6="" \
    ETCD_ENDPOINTS="" \
    ETCD_DISCOVERY_SRV="" \
    ETCD_CA_CERT_FILE="" \
    ETCD_CERT_FILE="" \
    ETCD_KEY_FILE="" \
    CLUSTER_ID="" \
    DATASTORE_TYPE="" \
    ETCD_USERNAME="" \
    ETCD_PASSWORD="" \
    KUBECONFIG="" \
    K8S_API_ENDPOINT="" \
    K8S_CA_FILE="" \
    K8S_CERT_FILE="" \
    K8S_KEY_FILE="" \
    K8S_API_TOKEN="" \
    K8S_INSECURE_SKIP_TLS_VERIFY="" \
    NODENAME="" \
    CALICO_ROUTER_ID="" \
    DATASTORE_FILE="" \
    NAMESPACE="" \
    CALICO_API_GROUP="" \
    MAX_PREFIXES="" \
    ADD_PATHS="" \
    ASSIGN_REFLECTORS="" \
    ASSIGN_ZONE_LABEL="" \
    ASSIGN_SLACK="" \
    ASSIGN_GRACE_PERIOD="" \
    ASSIGN_LEASE_TTL="" \
    ASSIGN_WRITE_RATE="" \
    LOG_LEVEL="" \
    HTTP_LISTEN="" \
    NODE_ENV=production
USER node
EXPOSE 179/tcp 9179/tcp
# /livez on HTTP_LISTEN (127.0.0.1:9179 unless set; a wildcard address is asked on loopback)
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s CMD ["node", "-e", "const l=process.env.HTTP_LISTEN||'127.0.0.1:9179';const a=l.replace(/^(0\\.0\\.0\\.0|\\[::\\]):/,'127.0.0.1:');fetch('http://'+a+'/livez').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "/app/dist/cli.js"]
