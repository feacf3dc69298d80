# One image for every MyShop service; the command picks the service (`myshop serve users`, `myshop router`,
# `myshop sites` for the admin console and the storefront, ...).
# The web stage: Node only builds, the image runs without it. GraphiQL's assets (graphiql, react, react-dom), the
# admin console (myshop/console/web: React, chart.js, built by tsc + vite) and the reference storefront
# (examples/storefront, npm packages of its own) all come from the pinned package-lock.json files, never a CDN.
# Node 20.19 or later (package.json engines: Vite 7), pinned by tag.
FROM node:20.20.0-bookworm-slim AS web
WORKDIR /build
# No package of either lock has an install script; --ignore-scripts keeps it so.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
COPY examples/storefront/package.json examples/storefront/package-lock.json ./examples/storefront/
RUN cd examples/storefront && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
# The console as `make console` builds it: into myshop/console/static/ (its vite.config.ts).
COPY myshop/console/web ./myshop/console/web
RUN node_modules/.bin/tsc -p myshop/console/web \
    && node_modules/.bin/vite build --config myshop/console/web/vite.config.ts
# The storefront as `make storefront` builds it (type-checked against its committed generated types): dist/.
COPY examples/storefront ./examples/storefront
RUN cd examples/storefront && npm run --silent build

FROM python:3.11-slim
WORKDIR /app
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml setup.py README.md ./
# The locked versions, hash-checked: the runtime pins of requirements/lock.txt (no test tools) and the build's.
COPY requirements/runtime.txt ./requirements/
COPY shared ./shared
COPY myshop ./myshop
COPY subgraphs ./subgraphs
COPY router ./router
COPY schema ./schema
COPY router.yaml ./
COPY --from=web /build/node_modules/graphiql/graphiql.min.js /build/node_modules/graphiql/graphiql.min.css ./node_modules/graphiql/
COPY --from=web /build/node_modules/react/umd ./node_modules/react/umd
COPY --from=web /build/node_modules/react-dom/umd ./node_modules/react-dom/umd
# The built console, where setup.py finds it and copies it into the installed package (`myshop sites` serves it).
COPY --from=web /build/myshop/console/static ./myshop/console/static
# The built storefront: not part of the package (an example), served from here by `myshop sites --storefront`.
COPY --from=web /build/examples/storefront/dist ./storefront
ENV MYSHOP_STOREFRONT_DIR=/app/storefront
# gcc only for the install: setup.py compiles the router's hot modules (without it they would run as Python)
# and copies GraphiQL's assets and the console from the build context into the installed package, which then
# serves them.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && pip install --require-hashes -r requirements/runtime.txt \
    && pip install --no-deps --no-build-isolation . \
    && apt-get purge -y --auto-remove gcc libc6-dev && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 myshop && useradd --system --uid 10001 --gid 10001 myshop \
    && mkdir /data && chown myshop:myshop /data
# Numeric, so Kubernetes' runAsNonRoot can check it (deploy/kubernetes/base/pod-defaults.yaml runs as 10001 too).
USER 10001:10001
# 4000 the router, 4001-4008 the subgraphs, 4010 the admin console and 4011 the storefront (`myshop sites`).
EXPOSE 4000-4008 4010 4011
CMD ["myshop", "--help"]
