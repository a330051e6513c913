// Packs the Herald checkout two folders up (`npm pack`, which builds dist/ first) into
// vendor/herald.tgz, the tarball this application's package.json depends on. An application
// outside this repository would depend on a published version instead.
import { execFileSync } from "node:child_process";
import { mkdirSync, renameSync } from "node:fs";
import { fileURLToPath } from "node:url";

const herald = fileURLToPath(new URL("../../..", import.meta.url));
const vendor = fileURLToPath(new URL("../vendor/", import.meta.url));
mkdirSync(vendor, { recursive: true });
const out = execFileSync("npm", ["pack", "--json", "--pack-destination", vendor], { cwd: herald, encoding: "utf8" });
const [{ filename }] = JSON.parse(out.slice(out.search(/^\[/m))); // after what the build printed
renameSync(`${vendor}${filename}`, `${vendor}herald.tgz`);
console.log(`packed ${herald} into vendor/herald.tgz`);
