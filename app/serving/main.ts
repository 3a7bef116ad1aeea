/** Standalone entry: `npx tsx app/serving/main.ts --repository DIR [--port N] …` (see cli.ts). */
import { serveCommand } from "./cli";

process.exitCode = await serveCommand(process.argv.slice(2), process);
