#!/usr/bin/env node
// The `herald` command. Herald runs its TypeScript through tsx (no build step), so this launcher
// registers tsx's loader and then imports the TypeScript entry; the import must be dynamic, as
// static imports would be resolved before the loader exists.
import { register } from "tsx/esm/api";

register();
await import("../scripts/cli/main.ts");
