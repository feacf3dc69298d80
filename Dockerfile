# One image for every MyShop service; the command picks the service (`myshop serve users`, ...).
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY subgraphs ./subgraphs
COPY router ./router
COPY schema ./schema
RUN pip install . && useradd --system --uid 10001 myshop && mkdir /data && chown myshop /data
USER myshop
EXPOSE 4000-4007
CMD ["myshop", "--help"]
