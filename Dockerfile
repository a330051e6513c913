# One image for both services; the command picks which (see docker-compose.yml).
# Build stage: `npm run build` compiles to dist/ (it needs the development dependencies).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY shared ./shared
COPY services ./services
COPY scripts ./scripts
RUN npm run build

# Runtime: the production dependencies and the compiled JavaScript, run with plain node (no TypeScript loader).
FROM node:20-bookworm-slim
WORKDIR /app
# NODE_OPTIONS: the flags of shared/runtime/node-flags.ts (why: see there).
ENV NODE_ENV=production HOST=0.0.0.0 NODE_OPTIONS=--max-semi-space-size=32
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY --from=build /app/dist ./dist
COPY bin ./bin
USER node
EXPOSE 3000
CMD ["node", "dist/services/api/main.js"]
