import { type ParseArgsConfig, parseArgs } from "node:util";

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

export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}
