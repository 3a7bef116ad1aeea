/**
 * `dagwood connections list|test NAME`: the database connections dagwood.json names
 * ("connections"), and a check that one connects (it prints the server's version). Neither ever
 * prints a secret: list says only where the secret comes from (DAGWOOD_SECRET_<NAME>, the keychain
 * or none).
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { EXIT, type Io, parse, runSubcommand, type Subcommands, UsageError } from "./args";
import { renderTable, toJson } from "./format";

export const CONNECTIONS_HELP = `Database connections (dagwood.json "connections"; passwords from DAGWOOD_SECRET_<NAME> or the OS keychain, never the file):
  dagwood connections list [--project DIR] [--json]        name, kind, where it points, where its secret comes from
  dagwood connections test <name> [--project DIR] [--json]  connects and prints the server's version (exit 1 with the error otherwise)
`;

async function projectConnections(projectOpt: unknown) {
  const { findProjectDir, readProjectSettings } = await import("../project/project");
  const dir = projectOpt ? resolve(projectOpt as string) : findProjectDir(join(process.cwd(), "_"));
  if (!existsSync(dir)) throw new UsageError(`--project ${projectOpt}: no such folder`);
  const settings = readProjectSettings(dir);
  return { dir, settings, connections: settings.connections ?? {} };
}

const options = { project: { type: "string" }, json: { type: "boolean" } } as const;

export function connectionsCommand(args: string[], io: Io): Promise<number> {
  const table: Subcommands = {
    list: async (rest, io) => {
      const { values, positionals } = parse(rest, options);
      if (positionals.length > 0)
        throw new UsageError(`connections list takes no arguments (got ${positionals.join(" ")})`);
      const { connections } = await projectConnections(values.project);
      const { describeConnection } = await import("../ingest/db/open");
      const { secretVariable } = await import("../ingest/db/secrets");
      const { keychainSecret } = await import("../project/keychain");
      const rows = Object.entries(connections).map(([name, s]) => ({
        name,
        kind: s.kind,
        target: describeConnection(s),
        secret:
          s.kind === "sqlite"
            ? "none"
            : process.env[secretVariable(name)]
              ? secretVariable(name)
              : keychainSecret("connection", name) !== null
                ? "keychain"
                : "none",
      }));
      if (values.json) io.stdout.write(toJson(rows));
      else if (rows.length === 0)
        io.stdout.write(
          'No connections: name one in dagwood.json ("connections": { "warehouse": { "kind": "postgres", … } }).\n',
        );
      else
        io.stdout.write(
          `${renderTable(
            ["NAME", "KIND", "WHERE", "SECRET"],
            rows.map((r) => [r.name, r.kind, r.target, r.secret]),
          )}\n`,
        );
      return EXIT.ok;
    },
    test: async (rest, io) => {
      const { values, positionals } = parse(rest, options);
      if (positionals.length !== 1)
        throw new UsageError("connections test needs one connection name: dagwood connections test <name>");
      const name = positionals[0]!;
      const { dir, settings, connections } = await projectConnections(values.project);
      const s = Object.hasOwn(connections, name) ? connections[name] : undefined;
      if (!s) {
        const known = Object.keys(connections);
        io.stderr.write(
          `No connection named ${name} in dagwood.json${known.length ? ` (there are: ${known.join(", ")})` : ""}.\n`,
        );
        return EXIT.failed;
      }
      const { openConnection, describeConnection } = await import("../ingest/db/open");
      const { DbError } = await import("../ingest/db/types");
      try {
        const conn = await openConnection(dir, name, s, { dataFolders: settings.dataFolders });
        try {
          const version = await conn.serverVersion();
          if (values.json)
            io.stdout.write(
              toJson({ name, ok: true, kind: s.kind, target: describeConnection(s), serverVersion: version }),
            );
          else io.stdout.write(`${name}: connected to ${version} (${describeConnection(s)})\n`);
        } finally {
          await conn.close();
        }
        return EXIT.ok;
      } catch (e) {
        if (!(e instanceof DbError)) throw e;
        if (values.json)
          io.stdout.write(
            toJson({
              name,
              ok: false,
              kind: s.kind,
              target: describeConnection(s),
              error: { kind: e.kind, message: e.message },
            }),
          );
        else io.stderr.write(`${e.message}\n`);
        return EXIT.failed;
      }
    },
  };
  return runSubcommand("connections", table, args, io);
}
