# One image for both services; the command picks which (see docker-compose.yml).
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production HOST=0.0.0.0
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY tsconfig.json ./
COPY shared ./shared
COPY services ./services
COPY scripts ./scripts
USER node
EXPOSE 3000
CMD ["node", "--import", "tsx", "services/api/main.ts"]
