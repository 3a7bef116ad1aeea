/**
 * `dagwood features serve`: the project's feature server on its own, on
 * Feast's port 6566 by default (app/features/server.ts), until SIGINT or
 * SIGTERM. The token rules are the model server's: from --token-file or
 * DAGWOOD_SERVE_TOKEN; /push and /materialize need it, /get-online-features
 * only with --infer-token. Exit 0 after a clean shutdown, 1 when it cannot
 * listen, 2 on bad arguments or definitions.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { EXIT, type Io, parse, UsageError } from "./args";

export const FEATURES_SERVE_HELP = `  dagwood features serve [--host 127.0.0.1] [--port 6566] [--token-file FILE | env DAGWOOD_SERVE_TOKEN]
                         [--infer-token] [--max-body-bytes N]
                                       Feast's feature-server protocol: POST /get-online-features, /push (token),
                                       /materialize and /materialize-incremental (token)
`;

export async function featuresServeCommand(
  args: string[],
  io: Io,
  signals: { once(event: "SIGINT" | "SIGTERM", listener: () => void): unknown } = process,
): Promise<number> {
  const { values, positionals } = parse(args, {
    project: { type: "string" },
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "6566" },
    "token-file": { type: "string" },
    "infer-token": { type: "boolean", default: false },
    "max-body-bytes": { type: "string" },
  });
  if (positionals.length) throw new UsageError("features serve takes no positional arguments");
  const port = Number(values.port);
  if (!Number.isSafeInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--port must be an integer from 0 to 65535, not ${values.port}`);
  let maxBodyBytes: number | undefined;
  if (values["max-body-bytes"] !== undefined) {
    maxBodyBytes = Number(values["max-body-bytes"]);
    if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 1024)
      throw new UsageError(
        `--max-body-bytes must be an integer of at least 1024, not ${values["max-body-bytes"]}`,
      );
  }
  const warn = (m: string) => io.stderr.write(`dagwood features serve: ${m}\n`);
  const { checkToken, readTokenFile } = await import("../serving/cli");
  let token: string | undefined;
  try {
    if (values["token-file"] !== undefined) token = readTokenFile(values["token-file"], warn);
    else if (process.env.DAGWOOD_SERVE_TOKEN)
      token = checkToken(process.env.DAGWOOD_SERVE_TOKEN, "DAGWOOD_SERVE_TOKEN");
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values["infer-token"] && !token)
    throw new UsageError("--infer-token needs a token (--token-file or DAGWOOD_SERVE_TOKEN)");

  const { findProjectDir } = await import("../project/project");
  const dir = values.project ? resolve(values.project) : findProjectDir(join(process.cwd(), "_"));
  if (!existsSync(dir)) throw new UsageError(`--project ${values.project}: no such folder`);
  const { openProjectFeatureService } = await import("../features/serve-project");
  const { createFeatureServer } = await import("../features/server");
  let service: ReturnType<typeof openProjectFeatureService>;
  try {
    service = openProjectFeatureService(dir);
  } catch (e) {
    io.stderr.write(`${(e as Error).message}\n`);
    return EXIT.invalid;
  }
  const server = createFeatureServer(service, {
    ...(token ? { token } : {}),
    inferToken: values["infer-token"],
    ...(maxBodyBytes ? { maxBodyBytes } : {}),
    log: warn,
  });
  let url: string;
  try {
    url = await server.listen(port, values.host);
  } catch (e) {
    io.stderr.write(
      `dagwood features serve: cannot listen on ${values.host}:${port}: ${(e as Error).message}\n`,
    );
    await service.close();
    return EXIT.failed;
  }
  io.stdout.write(
    `dagwood features serve: listening on ${url} (project ${dir}, online store ${service.store.kind})\n` +
      `  token: ${token ? "set — push and materialize need it" : "none — push and materialize are refused"}${values["infer-token"] ? "; get-online-features needs it too" : ""}\n`,
  );
  await new Promise<void>((done) => {
    signals.once("SIGINT", done);
    signals.once("SIGTERM", done);
  });
  io.stdout.write("dagwood features serve: shutting down\n");
  await server.close();
  await service.close();
  return EXIT.ok;
}
