// Herald's own package.json, found from this file whether it runs as source (shared/runtime/) or
// compiled (dist/shared/runtime/): the nearest package.json above it named "herald".
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface PackageInfo {
  readonly name: string;
  readonly version: string;
  /** The folder holding package.json. */
  readonly root: string;
}

function find(): PackageInfo {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, "package.json");
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, "utf8")) as { name?: string; version?: string };
      if (pkg.name === "herald" && typeof pkg.version === "string")
        return { name: pkg.name, version: pkg.version, root: dir };
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json of herald above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

export const packageInfo: PackageInfo = Object.freeze(find());
