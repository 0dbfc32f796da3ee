# The KPI worker (and, with another command, the simulator).
FROM python:3.11.10-slim-bookworm

WORKDIR /app
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY stream ./stream
RUN pip install --no-cache-dir . \
    && useradd --system --uid 10001 kpi \
    && mkdir -p /var/lib/contact-centre \
    && chown kpi /var/lib/contact-centre

USER kpi
ENV KPI_WEB_HOST=0.0.0.0 \
    KPI_DATA_DIR=/var/lib/contact-centre \
    PYTHONUNBUFFERED=1
EXPOSE 6066
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:6066/healthz', timeout=2)"
CMD ["python", "-m", "stream", "worker"]
