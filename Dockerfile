# Sovereign's image: one for both planes. `docker build -t sovereign .`, then
#   docker run ... sovereign control-plane
#   docker run ... sovereign data-plane     (as root, with what its jails need: see
#                                            deploy/kubernetes/README.md)
# Configured by SOV_* variables, as the README's "Production set-up" says.

ARG NODE_IMAGE=node:24-bookworm-slim

# Install everything (the dashboard is built by `npm ci`'s prepare step), then keep only
# what runs: no compilers, linters or test tools in the final image.
FROM ${NODE_IMAGE} AS build
# node-gyp builds the data plane's native spawner (packages/data-plane/native) with these.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/sovereign
COPY . .
RUN npm ci --no-audit --no-fund \
  && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE}
# What every run's jail is built with (bubblewrap, slirp4netns, socat, util-linux's
# nsenter), and the Python that Python environments are built with (a venv per
# environment); Node environments use this image's Node and npm.
RUN apt-get update \
  && apt-get install -y --no-install-recommends \
    bubblewrap slirp4netns socat util-linux python3 python3-venv ca-certificates \
  && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/sovereign /opt/sovereign
WORKDIR /opt/sovereign
# Where a data plane keeps its files, jails' directories included: every directory above
# them must be traversable by runs' users (0755).
RUN mkdir -p /var/lib/sovereign /var/cache/sovereign \
  && chmod 0755 /var/lib/sovereign \
  && chmod 1777 /var/cache/sovereign
ENV NODE_ENV=production
# The control plane runs as this user; the data plane as root (its jails need it: run it
# with user 0 in a user namespace of its own, as deploy/kubernetes does).
USER 10001:10001
EXPOSE 8080 8081
ENTRYPOINT ["node", "packages/cli/src/bin/sov.ts"]
CMD ["--help"]
