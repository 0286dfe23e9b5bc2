# Container image for the touchstream pipeline (used by docker-compose.yml): Node 20, dependencies from the lock file.
# The full node:20 image has python3, make and g++, which node-rdkafka needs to compile librdkafka (~2 min).
FROM node:20-bookworm

WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .

ENV NODE_ENV=production
# A larger young generation: the pipeline allocates short-lived objects per event; scavenges get rarer and cheaper.
ENV NODE_OPTIONS=--max-semi-space-size=64
# node itself (not npx), so SIGTERM reaches touchstream and it drains and commits before the container stops.
CMD ["node", "bin/touchstream.mjs", "run"]
