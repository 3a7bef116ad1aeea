import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { type ParseArgsConfig, parseArgs } from "node:util";
import type { StoreSettings } from "../project/project";
import type { MetadataStore } from "../store/metadata";

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
 * `missing(dir)` to stderr and gives undefined: the command exits 1. A
 * project on a team store (dagwood.json `store.kind` postgres) always has one.
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
    const { store, error } = await storeSettings(dir);
    if (store.kind === "sqlite") {
      io.stderr.write(`${error ?? missing(dir)}\n`);
      return undefined;
    }
  }
  return { dir, db };
}

/**
 * The project's `store` setting. Invalid settings count as the default (SQLite), so the commands
 * that read the store file keep working; `error` says what is wrong with them.
 */
async function storeSettings(dir: string): Promise<{ store: StoreSettings; error?: string }> {
  const { readProjectSettings } = await import("../project/project");
  try {
    return { store: readProjectSettings(dir).store };
  } catch (e) {
    return { store: { kind: "sqlite" }, error: (e as Error).message };
  }
}

/**
 * Opens the project's metadata store (never creating a SQLite file): the file at `db`, or the
 * team store dagwood.json names. When it cannot, says why on stderr and gives undefined.
 */
export async function openMetadataStore(io: Io, dir: string, db: string): Promise<MetadataStore | undefined> {
  const { openProjectStore } = await import("../store/open");
  const { store } = await storeSettings(dir);
  try {
    const opened = openProjectStore(dir, { store }, { existingOnly: true });
    if (!opened) io.stderr.write(`Cannot open ${db}: the project has no metadata store yet.\n`);
    return opened;
  } catch (e) {
    io.stderr.write(
      `Cannot open ${store.kind === "sqlite" ? db : "the team store"}: ${(e as Error).message}\n`,
    );
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
