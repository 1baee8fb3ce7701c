# STAMP dashboard for a team server: gunicorn serving dashboard.server.wsgi:server as a non-root user.
#   docker build -t stamp .
#   docker run -p 8050:8050 -v stamp-cache:/var/cache/stamp stamp
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    STAMP_CACHE_DIR=/var/cache/stamp \
    STAMP_DATA_DIR=/data

RUN useradd --create-home --uid 10001 stamp \
    && mkdir -p /var/cache/stamp /data /app \
    && chown -R stamp:stamp /var/cache/stamp /data /app

# Build the wheel, install it and delete the sources: the image runs the installed wheel (as
# `pip install stamp-*.whl` would anywhere), not an editable checkout.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY .ci/constraints.txt ./.ci/constraints.txt
COPY stamp_engine ./stamp_engine
COPY dashboard ./dashboard
COPY assets ./assets
# server: gunicorn; celery: celery + redis client, for STAMP_BACKGROUND=celery workers. Pinned like CI.
RUN pip wheel --no-deps -w /tmp/dist . \
    && pip install -c .ci/constraints.txt "$(ls /tmp/dist/stamp-*.whl)[server,celery]" \
    && rm -rf /tmp/dist /src
WORKDIR /app

USER stamp
VOLUME ["/var/cache/stamp"]
EXPOSE 8050
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; p = os.environ.get('STAMP_URL_PREFIX', '/').rstrip('/'); urllib.request.urlopen('http://127.0.0.1:8050' + p + '/healthz', timeout=4)"

# gunicorn serving dashboard.server.wsgi:server; workers, threads and the request timeout come from
# STAMP_WORKERS, STAMP_THREADS and STAMP_TIMEOUT_S (jobs run in their own processes, not bounded by it).
# A Celery worker from the same image: docker run … stamp python -m dashboard.server.worker
CMD ["python", "-c", "from dashboard.server.serve import serve; serve(host='0.0.0.0', port=8050, production=True)"]
