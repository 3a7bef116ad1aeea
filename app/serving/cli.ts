/**
 * `dagwood serve [--host 127.0.0.1] [--port 8000] [--repository DIR] [--token T] [--infer-token]
 *                [--max-load-bytes N] [--max-infer-bytes N] [--log-sample-rate 0..1] [--log-max-per-second N]` — runs until SIGINT/SIGTERM.
 * The token may come from DAGWOOD_SERVE_TOKEN instead of the command line
 * (where other users of the machine could read it).
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { createServer } from "./server";

export interface ServeIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export const SERVE_USAGE =
  "usage: dagwood serve [--host 127.0.0.1] [--port 8000] [--repository DIR] [--token T | env DAGWOOD_SERVE_TOKEN]\n" +
  "                     [--infer-token] [--max-load-bytes N] [--max-infer-bytes N] [--log-sample-rate 0..1]\n" +
  "                     [--log-max-per-second N|unlimited]\n";

function positiveInteger(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new Error(`${flag} must be a non-negative integer, not ${text}`);
  return n;
}

/** Exit code 0 after a clean shutdown, 2 on bad arguments, 1 when the server cannot start. */
export async function serveCommand(
  args: string[],
  io: ServeIo,
  signals: { once(event: "SIGINT" | "SIGTERM", listener: () => void): unknown } = process,
): Promise<number> {
  let options: Parameters<typeof createServer>[0];
  let port: number;
  try {
    const { values } = parseArgs({
      args,
      options: {
        host: { type: "string", default: "127.0.0.1" },
        port: { type: "string", default: "8000" },
        repository: { type: "string", default: "model-repository" },
        token: { type: "string" },
        "infer-token": { type: "boolean", default: false },
        "max-load-bytes": { type: "string" },
        "max-infer-bytes": { type: "string" },
        "log-sample-rate": { type: "string" },
        "log-max-per-second": { type: "string" },
        help: { type: "boolean", default: false },
      },
    });
    if (values.help) {
      io.stdout.write(SERVE_USAGE);
      return 0;
    }
    port = positiveInteger(values.port, "--port")!;
    if (port > 65535) throw new Error(`--port must be at most 65535, not ${port}`);
    const token = values.token ?? process.env.DAGWOOD_SERVE_TOKEN ?? undefined;
    if (values["infer-token"] && !token)
      throw new Error("--infer-token needs a token (--token or DAGWOOD_SERVE_TOKEN)");
    options = {
      repository: resolve(values.repository!),
      host: values.host!,
      port,
      inferToken: values["infer-token"],
      log: (m) => io.stderr.write(`dagwood serve: ${m}\n`),
      ...(token ? { token } : {}),
    };
    const maxLoad = positiveInteger(values["max-load-bytes"], "--max-load-bytes");
    const maxInfer = positiveInteger(values["max-infer-bytes"], "--max-infer-bytes");
    if (maxLoad !== undefined) options.maxLoadBytes = maxLoad;
    if (values["log-sample-rate"] !== undefined) {
      const rate = Number(values["log-sample-rate"]);
      if (!(rate >= 0 && rate <= 1))
        throw new Error(`--log-sample-rate must be from 0 to 1, not ${values["log-sample-rate"]}`);
      options.logSampleRate = rate;
    }
    const cap = values["log-max-per-second"];
    if (cap !== undefined) {
      options.logMaxPerSecond =
        cap === "unlimited" ? Number.POSITIVE_INFINITY : positiveInteger(cap, "--log-max-per-second");
    }
    if (maxInfer !== undefined) options.maxInferBytes = maxInfer;
  } catch (e) {
    io.stderr.write(`${(e as Error).message}\n${SERVE_USAGE}`);
    return 2;
  }

  const server = createServer(options);
  let url: string;
  try {
    url = await server.listen(port, options.host);
  } catch (e) {
    io.stderr.write(`dagwood serve: cannot listen on ${options.host}:${port}: ${(e as Error).message}\n`);
    return 1;
  }
  io.stdout.write(
    `dagwood serve: listening on ${url} (repository ${options.repository})\n` +
      `  token: ${options.token ? "set — repository, traffic and log calls need it" : "none — repository calls are refused"}` +
      `${options.inferToken ? "; infer needs it too" : ""}\n`,
  );
  await new Promise<void>((resolvePromise) => {
    signals.once("SIGINT", resolvePromise);
    signals.once("SIGTERM", resolvePromise);
  });
  io.stdout.write("dagwood serve: shutting down\n");
  await server.close();
  return 0;
}
