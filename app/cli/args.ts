import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { type ParseArgsConfig, parseArgs } from "node:util";
import type { SqliteMetadataStore } from "../store/metadata";

/** Exit codes: 0 success, 1 the run failed (or a thing was not found or refused), 2 invalid pipeline or arguments. */
export const EXIT = { ok: 0, failed: 1, invalid: 2 } as const;

/** Bad command-line arguments: main prints the message and the usage, and exits 2. */
export class UsageError extends Error {}

export function parse<T extends NonNullable<ParseArgsConfig["options"]>>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/**
 * The project `--project DIR` names (else the one around the working folder)
 * and the path of its metadata store. When there is no store yet, writes
 * `missing(dir)` to stderr and gives undefined: the command exits 1.
 */
export async function findProjectStore(
  io: Io,
  projectOpt: unknown,
  missing: (dir: string) => string,
): Promise<{ dir: string; db: string } | undefined> {
  const { findProjectDir } = await import("../project/project");
  const dir = projectOpt ? resolve(projectOpt as string) : findProjectDir(join(process.cwd(), "_"));
  const db = join(dir, ".dagwood", "metadata.sqlite");
  if (!existsSync(db)) {
    io.stderr.write(`${missing(dir)}\n`);
    return undefined;
  }
  return { dir, db };
}

/** Opens the metadata store at `db` (never creating one); when it cannot, says why on stderr and gives undefined. */
export async function openMetadataStore(
  io: Io,
  dir: string,
  db: string,
): Promise<SqliteMetadataStore | undefined> {
  const { SqliteMetadataStore } = await import("../store/metadata");
  try {
    return new SqliteMetadataStore(db, { projectDir: dir });
  } catch (e) {
    io.stderr.write(`Cannot open ${db}: ${(e as Error).message}\n`);
    return undefined;
  }
}

export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

export type Subcommands = Record<string, (args: string[], io: Io) => Promise<number>>;

/**
 * Runs the subcommand of `group` that args[0] names (`runs list`, `models
 * show`, `datasets list`); a missing or unknown one is a usage error that
 * lists the subcommands.
 */
export function runSubcommand(group: string, table: Subcommands, args: string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  const fn = sub && Object.hasOwn(table, sub) ? table[sub] : undefined;
  if (!fn) {
    const names = Object.keys(table);
    const list = names.length > 1 ? `${names.slice(0, -1).join(", ")} or ${names.at(-1)}` : names.join("");
    throw new UsageError(sub ? `Unknown command "${group} ${sub}"` : `${group} needs a command: ${list}`);
  }
  return fn(rest, io);
}
