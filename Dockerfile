# syntax=docker/dockerfile:1
# A CPython with working sub-interpreters, built, verified and installed by
# pybuild12, in an image without the build toolchain. See README.md, "Docker image".
#
#   docker build -t pybuild12-python .                        # CPython main at the article's commit
#   docker build --build-arg RECIPE=3.13.5 -t py313 .
#   podman build --timestamp "$SOURCE_DATE_EPOCH" --build-arg SOURCE_DATE_EPOCH \
#       --build-arg PGO_PROFILE=profiles/3.13.5.profile.tar.zst --build-arg RECIPE=3.13.5 .
#
# With SOURCE_DATE_EPOCH and a recorded PGO profile (PGO_PROFILE) the same inputs
# give the same image, bit for bit; without a profile the build trains a fresh one
# and the PGO-compiled binaries differ from build to build.
#
# From a team's shared store instead of compiling (what CI built and pushed there):
#   docker build --build-arg CACHE_URL=https://cache.example/pybuild12 \
#       --build-arg CACHE_TRUST="$(cat trusted-key)" --build-arg PYBUILD12_HOME=/opt/pybuild12 \
#       --build-arg RECIPE=3.13.5 .
# Builds are not relocatable: the store must hold a build made with the same
# PYBUILD12_HOME, recipe, options and compiler (`pybuild12 key` prints the key to look for).

ARG BASE_IMAGE=debian:bookworm-slim@sha256:4b50eb66f977b4062683ff434ef18ac191da862dbe966961bc11990cf5791a8d
# BUILDER_IMAGE: the build stage's base, BASE_IMAGE unless given. One of the same Debian
# release with the build dependencies below already installed saves installing them on
# each build; the final image is made from BASE_IMAGE either way.
ARG BUILDER_IMAGE=${BASE_IMAGE}

# PYBUILD12_HOME: where the build is installed (its prefix is $PYBUILD12_HOME/data/pythons/NAME).
ARG PYBUILD12_HOME=/opt/pybuild12

FROM ${BUILDER_IMAGE} AS builder
ARG PYBUILD12_HOME
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 PYBUILD12_HOME=${PYBUILD12_HOME}

# CPython's build dependencies (no Tk: the image has no display), git for git
# recipes, and Debian's python3 to run pybuild12 itself.
# hadolint ignore=DL3008
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends \
        build-essential pkg-config libssl-dev zlib1g-dev libbz2-dev libreadline-dev \
        libsqlite3-dev libncurses-dev libffi-dev liblzma-dev uuid-dev libgdbm-dev libgdbm-compat-dev \
        libexpat1-dev git ca-certificates xz-utils python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*

COPY . /src
# PyPI through a TLS-inspecting proxy: pass its CA bundle as the build secret "ca"
# (--secret id=ca,src=/path/to/ca-bundle.crt); without it the system store is used.
RUN --mount=type=secret,id=ca \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi \
    && python3 -m venv /opt/bootstrap \
    && /opt/bootstrap/bin/pip install -q --no-cache-dir --disable-pip-version-check /src

# RECIPE: what to build (pybuild12 list). MIRROR: a directory in the build context
# holding the source tarball or git repository (offline builds). PGO_PROFILE: a
# profile in the build context from 'pybuild12 profile export'. TESTS=support keeps
# only test/__init__.py and test/support of the test package (what the
# sub-interpreter API of 3.12/3.13 needs); the default keeps all of it.
# INSTALL_OPTS: more `pybuild12 install` options, e.g. "--no-pgo" for a quick plain build.
# CACHE_URL and CACHE_TRUST: a shared store to install from (PYBUILD12_CACHE_URL and the
# public key of its signer, PYBUILD12_CACHE_TRUST); the build compiles from source
# when the store has no artifact of it. Without them nothing is cached (--no-cache).
ARG RECIPE=main
ARG MIRROR=
ARG PGO_PROFILE=
ARG TESTS=all
ARG SOURCE_DATE_EPOCH
ARG JOBS=
ARG INSTALL_OPTS=
ARG CACHE_URL=
ARG CACHE_TRUST=
# hadolint ignore=SC2086
RUN cache=--no-cache && if [ -n "$CACHE_URL" ]; then cache=; fi \
    && python="$(PYBUILD12_MIRROR="${MIRROR:+/src/$MIRROR}" PYBUILD12_CACHE_URL="$CACHE_URL" \
        PYBUILD12_CACHE_TRUST="$CACHE_TRUST" /opt/bootstrap/bin/pybuild12 install "$RECIPE" $cache \
        ${PGO_PROFILE:+--pgo-profile "/src/$PGO_PROFILE"} ${JOBS:+--jobs "$JOBS"} $INSTALL_OPTS)" \
    && stdlib="$("$python" -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')" \
    && if [ "$TESTS" = support ]; then \
        find "$stdlib/test" -mindepth 1 -maxdepth 1 ! -name __init__.py ! -name support ! -name __pycache__ \
            -exec rm -rf {} + \
        && find "$stdlib/test/__pycache__" -type f ! -name '__init__.*' -delete \
        && /opt/bootstrap/bin/pybuild12 verify --python "$python"; \
    elif [ "$TESTS" != all ]; then echo "TESTS must be all or support, not '$TESTS'" >&2; exit 2; fi \
    && mkdir -p "$PYBUILD12_HOME/bin" \
    && for tool in python python3 "$(basename "$python")" pip pip3; do \
        ln -s "$(dirname "$python")/$tool" "$PYBUILD12_HOME/bin/$tool"; \
    done \
    && /src/docker/runtime-packages "$(dirname "$(dirname "$python")")" > /opt/runtime-packages \
    && rm -rf "$PYBUILD12_HOME/cache" "$PYBUILD12_HOME/logs" "$PYBUILD12_HOME/data/locks"

# pybuild12 in the image runs on the Python it built (verify, list, which, venv ...).
RUN --mount=type=secret,id=ca \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi \
    && "$PYBUILD12_HOME/bin/python3" -m venv "$PYBUILD12_HOME/tool" \
    && "$PYBUILD12_HOME/tool/bin/pip" install -q --no-cache-dir --disable-pip-version-check /src \
    && ln -s ../tool/bin/pybuild12 "$PYBUILD12_HOME/bin/pybuild12"


FROM ${BASE_IMAGE}
ARG PYBUILD12_HOME
ENV LANG=C.UTF-8 PYBUILD12_HOME=${PYBUILD12_HOME} \
    PATH=${PYBUILD12_HOME}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
COPY --from=builder /opt/runtime-packages /tmp/runtime-packages
# Only the shared libraries the build links against; apt's and dpkg's logs and
# caches go, since they differ from one build to the next.
# hadolint ignore=DL3008
RUN apt-get update -qq \
    && xargs -a /tmp/runtime-packages apt-get install -y -qq --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/cache/ldconfig/aux-cache /var/log/apt \
        /var/log/dpkg.log /var/log/alternatives.log /var/cache/debconf/*-old /var/lib/dpkg/*-old \
        /tmp/runtime-packages
COPY --from=builder ${PYBUILD12_HOME} ${PYBUILD12_HOME}
CMD ["python3"]
