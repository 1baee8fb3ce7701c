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
RUN pip install -e ".[server]"

USER stamp
VOLUME ["/var/cache/stamp"]
EXPOSE 8050
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; p = os.environ.get('STAMP_URL_PREFIX', '/').rstrip('/'); urllib.request.urlopen('http://127.0.0.1:8050' + p + '/healthz', timeout=4)"

# Long background jobs run in the worker processes' own pool; --timeout covers slow uploads.
CMD ["gunicorn", "dashboard.wsgi:server", "--bind", "0.0.0.0:8050", "--workers", "2", "--threads", "4", "--timeout", "300", "--access-logfile", "-"]
