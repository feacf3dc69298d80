# One image for every MyShop service; the command picks the service (`myshop serve users`, `myshop router`, ...).
# GraphiQL's assets (graphiql, react, react-dom: pinned in package-lock.json) come from npm, never a CDN.
FROM node:20-slim AS graphiql-assets
WORKDIR /assets
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

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
COPY --from=graphiql-assets /assets/node_modules/graphiql/graphiql.min.js /assets/node_modules/graphiql/graphiql.min.css ./node_modules/graphiql/
COPY --from=graphiql-assets /assets/node_modules/react/umd ./node_modules/react/umd
COPY --from=graphiql-assets /assets/node_modules/react-dom/umd ./node_modules/react-dom/umd
# gcc only for the install: setup.py compiles the router's hot modules (without it they would run as Python)
# and copies GraphiQL's assets from node_modules into the installed package, which then serves them.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && pip install --require-hashes -r requirements/runtime.txt \
    && pip install --no-deps --no-build-isolation . \
    && apt-get purge -y --auto-remove gcc libc6-dev && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 myshop && useradd --system --uid 10001 --gid 10001 myshop \
    && mkdir /data && chown myshop:myshop /data
# Numeric, so Kubernetes' runAsNonRoot can check it (deploy/kubernetes/base/pod-defaults.yaml runs as 10001 too).
USER 10001:10001
EXPOSE 4000-4008
CMD ["myshop", "--help"]
