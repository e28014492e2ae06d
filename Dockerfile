# The thumbnailer (makeThumbnails) as a container-image Lambda: LibreOffice does not fit a
# layer (250 MB unzipped), so every preview runs here, on Debian 12 with its own LibreOffice and
# ffmpeg (releases Debian still patches): the packages scripts/setup.sh installs for the tests.
#
#   npm run image -- --repository <account>.dkr.ecr.<region>.amazonaws.com/serverless-files-thumbnailer
#
# builds it for the functions' architecture (arm64, from serverless.yml), pushes it and prints
# the `thumbnailerImage` parameter the stack takes. The Node.js release is the project's own
# (the `node` devDependency in package.json; the template test checks that they match).
ARG BASE=node:24.21.0-bookworm-slim

# The handler's bundle, built as `osls package` builds the zipped functions' (scripts/image).
FROM ${BASE} AS bundle
WORKDIR /build
COPY package.json package-lock.json .npmrc ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json serverless.yml ./
COPY functions functions
COPY lib lib
COPY scripts/image scripts/image
RUN node --require tsx/cjs scripts/image/bundle.ts /var/task

# The previewers and the runtime interface client for this architecture, from image/'s lock
# file; the client's native part is compiled here (from its bundled curl, an .xz archive:
# the slim base has no xz), with tools the final image leaves out.
FROM ${BASE} AS modules
RUN apt-get update \
  && apt-get install -y --no-install-recommends \
    autoconf automake cmake g++ libtool make python3 xz-utils \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /var/task
COPY image/package.json image/package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM ${BASE}
COPY image/debian-packages.txt /tmp/
RUN apt-get update \
  && grep -v '^#' /tmp/debian-packages.txt | xargs apt-get install -y --no-install-recommends \
  && rm -rf /var/lib/apt/lists/* /tmp/debian-packages.txt \
  && fc-cache -f
# Lambda's file system is read-only but for /tmp: LibreOffice's profiles (one per conversion,
# lib/thumbnails/office.ts) and every temporary file go there. The code is where Lambda's
# LAMBDA_TASK_ROOT says it is for every image: /var/task.
ENV HOME=/tmp NODE_ENV=production LAMBDA_TASK_ROOT=/var/task
WORKDIR /var/task
COPY --from=modules /var/task/node_modules node_modules
COPY --from=bundle /var/task/functions functions
COPY image/entrypoint.sh /entrypoint.sh
ENTRYPOINT ["/entrypoint.sh"]
CMD ["functions/s3/make-thumbnails.handler"]
