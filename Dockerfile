# eventflow: build with `docker compose build` (see docker-compose.yml) or
# `docker build -t eventflow .`.

# ---- build ------------------------------------------------------------------
FROM rust:1-bookworm AS builder
WORKDIR /src

# Build the dependencies alone first, against stub sources, so that this layer
# is reused for as long as Cargo.toml and Cargo.lock do not change.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src tests/it \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs tests/it/main.rs \
    && cargo build --release --locked \
    && rm -rf src tests

# Now the real sources. Touch the crate roots so cargo rebuilds the crate
# rather than trusting the stubs' newer timestamps.
COPY src ./src
COPY tests ./tests
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked \
    && install -D -m 0755 target/release/eventflow /out/eventflow

# ---- runtime ----------------------------------------------------------------
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 eventflow \
    && useradd --system --uid 10001 --gid eventflow --create-home \
        --home-dir /home/eventflow --shell /usr/sbin/nologin eventflow

COPY --from=builder /out/eventflow /usr/local/bin/eventflow

USER eventflow:eventflow
WORKDIR /home/eventflow
EXPOSE 8000
ENTRYPOINT ["eventflow"]
CMD ["serve", "--addr", "0.0.0.0:8000"]
