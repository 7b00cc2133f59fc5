# syntax=docker/dockerfile:1
FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libpq-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY migrations ./migrations
COPY templates ./templates
RUN cargo build --release --locked --bin techx

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/techx --create-home techx
COPY --from=build /src/target/release/techx /usr/local/bin/techx
USER techx
WORKDIR /var/lib/techx
ENV TECHX_BIND=0.0.0.0:8080 TECHX_LOG_FORMAT=json DATABASE_URL=sqlite:///var/lib/techx/techx.db
EXPOSE 8080
ENTRYPOINT ["techx"]
CMD ["serve"]
