/**
 * `dagwood serve [--host 127.0.0.1] [--port 8000] [--repository DIR] [--token-file FILE] [--infer-token]
 *                [--max-load-bytes N] [--max-infer-bytes N] [--log-sample-rate 0..1] [--log-max-per-second N]
 *                [--log-all] [--log-max-rows N|unlimited] [--log-max-bytes N]` — runs until SIGINT/SIGTERM.
 * The token comes from a file (--token-file) or DAGWOOD_SERVE_TOKEN: on the
 * command line (--token, kept with a warning) other users of the machine can
 * read it in `ps`.
 */
import { readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import type { EntityInputsFn } from "./routes";
import { createServer, isLoopback } from "./server";

export interface ServeIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export const SERVE_USAGE =
  "usage: dagwood serve [--host 127.0.0.1] [--port 8000] [--repository DIR] [--token-file FILE | env DAGWOOD_SERVE_TOKEN]\n" +
  "                     [--infer-token] [--max-load-bytes N] [--max-infer-bytes N] [--log-sample-rate 0..1]\n" +
  "                     [--log-max-per-second N|unlimited] [--log-max-rows N|unlimited]\n" +
  "                     [--log-all] [--log-max-bytes N] [--project DIR]\n" +
  "  --log-all          log every inference whole (no sampling, no per-second cap, every row)\n" +
  "  --log-max-bytes N  inference log bytes on disk per model (default 128 MiB): past it the oldest\n" +
  "                     entries are deleted and counted, never a request refused\n" +
  "  --project DIR      also serve the project's features (Feast's feature-server routes: /get-online-features,\n" +
  "                     /push, /materialize, /materialize-incremental) and infer by entity for models whose\n" +
  '                     config names a feature service ("parameters": {"feature_service": {"string_value": …}})\n';

function positiveInteger(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new Error(`${flag} must be a non-negative integer, not ${text}`);
  return n;
}

/** A token, from the source named in `from`; refused when a header could not carry it. */
export function checkToken(token: string, from: string): string {
  if (token === "") throw new Error(`the token from ${from} is empty`);
  // An Authorization header carries visible ASCII; a space or control character would break or split it.
  if (!/^[\x21-\x7e]+$/.test(token)) {
    throw new Error(
      `the token from ${from} has a space, a control character or a non-ASCII character, which an Authorization header cannot carry; use visible ASCII only`,
    );
  }
  return token;
}

/** The token from --token-file (its first line, trimmed), warning when other users can read the file. */
export function readTokenFile(path: string, warn: (message: string) => void): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new Error(
      `--token-file ${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  if (process.platform !== "win32" && (statSync(path).mode & 0o077) !== 0) {
    warn(`warning: ${path} can be read by other users; restrict it with chmod 600 ${path}`);
  }
  return checkToken((text.split(/\r?\n/)[0] ?? "").trim(), `--token-file ${path}`);
}

/** Exit code 0 after a clean shutdown, 2 on bad arguments, 1 when the server cannot start. */
export async function serveCommand(
  args: string[],
  io: ServeIo,
  signals: { once(event: "SIGINT" | "SIGTERM", listener: () => void): unknown } = process,
): Promise<number> {
  let options: Parameters<typeof createServer>[0];
  let port: number;
  let projectDir: string | undefined;
  try {
    const { values } = parseArgs({
      args,
      options: {
        host: { type: "string", default: "127.0.0.1" },
        port: { type: "string", default: "8000" },
        repository: { type: "string", default: "model-repository" },
        token: { type: "string" },
        "token-file": { type: "string" },
        "infer-token": { type: "boolean", default: false },
        "max-load-bytes": { type: "string" },
        "max-infer-bytes": { type: "string" },
        "log-sample-rate": { type: "string" },
        "log-max-per-second": { type: "string" },
        "log-max-rows": { type: "string" },
        "log-max-bytes": { type: "string" },
        "log-all": { type: "boolean", default: false },
        project: { type: "string" },
        help: { type: "boolean", default: false },
      },
    });
    if (values.help) {
      io.stdout.write(SERVE_USAGE);
      return 0;
    }
    port = positiveInteger(values.port, "--port")!;
    if (values.project !== undefined) projectDir = resolve(values.project);
    if (port > 65535) throw new Error(`--port must be at most 65535, not ${port}`);
    const warn = (m: string) => io.stderr.write(`dagwood serve: ${m}\n`);
    if (values.token !== undefined && values["token-file"] !== undefined)
      throw new Error("give --token-file or --token, not both");
    let token: string | undefined;
    if (values["token-file"] !== undefined) token = readTokenFile(values["token-file"], warn);
    else if (values.token !== undefined) {
      token = checkToken(values.token, "--token");
      warn(
        "warning: --token puts the token on the command line, where other users of this machine can read it (ps); use --token-file FILE or DAGWOOD_SERVE_TOKEN",
      );
    } else if (process.env.DAGWOOD_SERVE_TOKEN)
      token = checkToken(process.env.DAGWOOD_SERVE_TOKEN, "DAGWOOD_SERVE_TOKEN");
    if (values["infer-token"] && !token)
      throw new Error("--infer-token needs a token (--token-file or DAGWOOD_SERVE_TOKEN)");
    if (!token && !isLoopback(values.host!)) {
      warn(
        `warning: listening on ${values.host} without a token: anyone who can reach the port can run inferences and read model metadata (repository calls stay refused); set a token (--token-file or DAGWOOD_SERVE_TOKEN) with --infer-token, or bind to 127.0.0.1`,
      );
    }
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
    if (values["log-all"]) {
      for (const flag of ["log-sample-rate", "log-max-per-second", "log-max-rows"] as const) {
        if (values[flag] !== undefined)
          throw new Error(`--log-all logs every request whole; drop --${flag} (or drop --log-all to sample)`);
      }
      options.logAll = true;
    }
    const rows = values["log-max-rows"];
    if (rows !== undefined) {
      options.logMaxRows =
        rows === "unlimited" ? Number.POSITIVE_INFINITY : positiveInteger(rows, "--log-max-rows");
      if (options.logMaxRows === 0) throw new Error("--log-max-rows must be at least 1 (or unlimited)");
    }
    const diskBytes = positiveInteger(values["log-max-bytes"], "--log-max-bytes");
    if (diskBytes !== undefined) {
      if (diskBytes < 64 * 1024)
        throw new Error(`--log-max-bytes must be at least 65536 (64 KiB), not ${diskBytes}`);
      options.logMaxDiskBytes = diskBytes;
    }
  } catch (e) {
    io.stderr.write(`${(e as Error).message}\n${SERVE_USAGE}`);
    return 2;
  }

  let features: Awaited<ReturnType<typeof projectFeatures>> | undefined;
  if (projectDir !== undefined) {
    try {
      features = await projectFeatures(projectDir);
    } catch (e) {
      io.stderr.write(`dagwood serve: --project ${projectDir}: ${(e as Error).message}\n`);
      return 2;
    }
    options.routes = features.routes;
    options.entityInputs = features.entityInputs;
  }
  const server = createServer(options);
  let url: string;
  try {
    url = await server.listen(port, options.host);
  } catch (e) {
    io.stderr.write(`dagwood serve: cannot listen on ${options.host}:${port}: ${(e as Error).message}\n`);
    await features?.close();
    return 1;
  }
  io.stdout.write(
    `dagwood serve: listening on ${url} (repository ${options.repository})\n` +
      `  token: ${options.token ? "set — repository, traffic, log and feedback calls need it" : "none — repository calls are refused"}` +
      `${options.inferToken ? "; infer needs it too" : ""}\n` +
      `  inference log: ${options.logAll ? "every request" : "sampled"}, at most ${options.logMaxDiskBytes ?? 128 * 1024 * 1024} bytes on disk per model\n` +
      (projectDir !== undefined
        ? `  features of ${projectDir}: POST /get-online-features, /push, /materialize, /materialize-incremental\n`
        : ""),
  );
  await new Promise<void>((resolvePromise) => {
    signals.once("SIGINT", resolvePromise);
    signals.once("SIGTERM", resolvePromise);
  });
  io.stdout.write("dagwood serve: shutting down\n");
  await server.close();
  await features?.close();
  return 0;
}

/** The feature routes and infer-by-entity of a project (app/features), loaded only when --project is given. */
async function projectFeatures(dir: string) {
  const { openProjectFeatureService } = await import("../features/serve-project");
  const { entityInputs, featureServeRoutes } = await import("../features/server");
  const service = openProjectFeatureService(dir);
  return {
    routes: featureServeRoutes(service),
    entityInputs: ((featureService, inputs, entities, given) =>
      entityInputs(service, featureService, inputs, entities, given)) satisfies EntityInputsFn,
    close: () => service.close(),
  };
}
