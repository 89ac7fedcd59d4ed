# syntax=docker/dockerfile:1
# One image for every vmscale service; the container's command chooses the service
# (python -m services.<name>). Built from uv.lock; the final stage holds the virtual environment
# and the code only (no uv, no compilers) and runs as an unprivileged user. The monitoring service
# checks the rules and Alertmanager configs it writes with promtool and amtool: both are copied from
# the Prometheus and Alertmanager images compose runs (same versions), to the paths its settings
# default to (PROMTOOL, AMTOOL). The directories a service writes in are created owned by that user,
# so a named volume mounted there first starts out writable by it.

FROM prom/prometheus:v2.53.0 AS prometheus
FROM prom/alertmanager:v0.27.0 AS alertmanager

FROM python:3.11-slim AS build
ARG UV_VERSION=0.13.9
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY shared ./shared
COPY services ./services
COPY cli ./cli
COPY lab ./lab
RUN uv sync --frozen --no-dev --no-editable

FROM python:3.11-slim
RUN useradd --system --uid 10001 --user-group --no-create-home vmscale \
 && install -d -o 10001 -g 10001 -m 0755 /var/lib/vmscale /etc/prometheus/vmscale /etc/alertmanager/vmscale
COPY --from=prometheus /bin/promtool /usr/bin/promtool
COPY --from=alertmanager /bin/amtool /usr/bin/amtool
WORKDIR /app
COPY --from=build /app/.venv /app/.venv
COPY --from=build /app/shared ./shared
COPY --from=build /app/services ./services
COPY --from=build /app/cli ./cli
COPY --from=build /app/lab ./lab
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
CMD ["python", "-m", "services.gateway"]
