# STAMP dashboard for a team server: gunicorn serving dashboard.wsgi:server as a non-root user.
#   docker build -t stamp .
#   docker run -p 8050:8050 -v stamp-cache:/var/cache/stamp stamp
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    STAMP_CACHE_DIR=/var/cache/stamp \
    STAMP_DATA_DIR=/data

# DejaVu: the font ffmpeg draws video captions with.
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 stamp \
    && mkdir -p /var/cache/stamp /data /app \
    && chown -R stamp:stamp /var/cache/stamp /data /app

WORKDIR /app
COPY --chown=stamp:stamp pyproject.toml README.md ./
COPY --chown=stamp:stamp stamp_engine ./stamp_engine
COPY --chown=stamp:stamp dashboard ./dashboard
COPY --chown=stamp:stamp assets ./assets
# server: gunicorn; celery: celery + redis client, for STAMP_BACKGROUND=celery workers.
RUN pip install -e ".[server,celery]"

USER stamp
VOLUME ["/var/cache/stamp"]
EXPOSE 8050
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; p = os.environ.get('STAMP_URL_PREFIX', '/').rstrip('/'); urllib.request.urlopen('http://127.0.0.1:8050' + p + '/healthz', timeout=4)"

# gunicorn serving dashboard.wsgi:server; workers, threads and the request timeout come from
# STAMP_WORKERS, STAMP_THREADS and STAMP_TIMEOUT_S (jobs run in their own processes, not bounded by it).
# A Celery worker from the same image: docker run … stamp python -m dashboard.worker
CMD ["python", "-c", "from dashboard.server import serve; serve(host='0.0.0.0', port=8050, production=True)"]
