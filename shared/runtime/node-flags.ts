// The Node.js flags Herald's own processes (the API and the bundled worker) run with, in every way
// they are started: `npm start`, `npm run start:api` / `start:worker`, the Docker image (as
// NODE_OPTIONS) and the bench. test/unit/node-flags.test.ts keeps those places in step with this list.
//
// --max-semi-space-size=32: every request and job allocates short-lived objects (~45 KB per
// submit); with V8's default young generation (16 MB semi-spaces on Node 20) they are scavenged so
// often that survivors get copied and promoted needlessly. 32 MB semi-spaces cut the API's CPU per
// `POST /jobs` by about a fifth here (BENCHMARKS.md), for up to ~50 MB more memory per process.
export const serviceNodeFlags: readonly string[] = ["--max-semi-space-size=32"];
