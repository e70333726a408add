# One image for every service; compose picks the service with the command.
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONUNBUFFERED=1 EXPERTSHARE_LOG_FORMAT=json EXPERTSHARE_VAR=/app/var
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
COPY cli ./cli
COPY scenarios ./scenarios
RUN pip install --no-cache-dir .
# compose.yaml runs it as the account owning deploy/secrets, whose files are mounted 0600.
USER nobody
CMD ["python", "-m", "services.matcher"]
