# ordermon worker image: `docker build -t ordermon:0.1.0 .` (docker-compose.yml builds it).
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
# ordermon/streams and ordermon/agents are symlinks to ../streams and ../agents: COPY keeps them as
# links, so the folders go beside ordermon/ and pip builds the package `ordermon` from all three
# (tests/integration/test_publisher_install.py builds from the same files).
COPY streams ./streams
COPY agents ./agents
COPY ordermon ./ordermon
RUN pip install '.[worker]' -c constraints.txt \
    && useradd --system --uid 10001 --home-dir /var/lib/ordermon --create-home ordermon

USER ordermon
# Inside a container the routes must listen on every interface; Faust's state goes to the home.
ENV ORDERMON_WEB_HOST=0.0.0.0 \
    ORDERMON_WEB_PORT=6066 \
    ORDERMON_DATA_DIR=/var/lib/ordermon
WORKDIR /var/lib/ordermon

EXPOSE 6066
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('ORDERMON_WEB_PORT', '6066') + '/healthz', timeout=4)"]

CMD ["ordermon", "worker"]
