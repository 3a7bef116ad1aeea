import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
// Rebuild when sources changed (a checkout); an installed copy ships dist/ only.
if (existsSync(join(root, "app"))) {
  const { build } = await import("./build.mjs");
  await build({ targets: process.argv[2] === "ui" ? ["cli", "renderer"] : ["cli"] });
}
const { main } = await import(join(root, "dist", "cli", "main.js"));
process.exitCode = await main(process.argv.slice(2));
