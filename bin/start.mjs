// `npm start`: until the desktop app lands, runs the bundled example pipeline
// on the embedded defaults and prints its results.
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "./build.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pipeline = join(root, "resources", "examples", "starter", "penguins.dag.json");
await build();
const { main } = await import(join(root, "dist", "cli", "main.js"));
const code = await main(["run", pipeline, "--verbose"]);
const rel = relative(process.cwd(), pipeline);
process.stdout.write(
  `\nRun it again and every node is cached:   bin/dagwood run ${rel}\n` +
    `Change a parameter and only split re-runs: bin/dagwood run ${rel} --param seed=8\n`,
);
process.exitCode = code;
