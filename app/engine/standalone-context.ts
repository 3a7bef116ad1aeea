/**
 * A block context for running a block's code outside a run: the CLI's
 * `expect` and `monitor` read data files with ingest.file's own code, the
 * Api's table profile and the ingest bench call blocks directly. It records
 * nothing (no metrics, logs, datasets, lineage) and, unless given, writes no
 * artifacts and has no registry.
 *
 *   const ctx = standaloneContext(sql, project.dir, { resolvePath: (p) => resolveProjectPath(dir, allowed, p) });
 */
import { resolve } from "node:path";
import type { SqlSession } from "../data/sql";
import type { Registry } from "../store/types";
import type { BlockContext } from "./block";

export interface StandaloneOptions {
  /** Prefix of the tables `newTable` names (default "cli"). */
  prefix?: string;
  /** Default: relative to `dir`, with no check (the caller read the path from its own user). */
  resolvePath?: BlockContext["resolvePath"];
  /** Default: "" (the digest a run records is not needed outside a run; hashing a 3M-row file would double a read). */
  hashFile?: BlockContext["hashFile"];
  /** Where artifacts may go (default: none, refused). */
  artifactDir?: string;
  registry?: Registry;
  /** The ids the block sees (default "cli"). */
  runId?: string;
  nodeId?: string;
}

export function standaloneContext(sql: SqlSession, dir: string, opts: StandaloneOptions = {}): BlockContext {
  const none = () => undefined;
  const refuse = (what: string) => async () => {
    throw new Error(`${what} outside a run`);
  };
  const prefix = opts.prefix ?? "cli";
  const { registry, artifactDir } = opts;
  let tables = 0;
  return {
    sql,
    projectDir: dir,
    artifactDir: artifactDir !== undefined ? async () => artifactDir : refuse("no artifacts are written"),
    resolvePath: opts.resolvePath ?? ((p) => resolve(dir, p)),
    newTable: (port) => `${prefix}_${++tables}_${port}`,
    progress: none,
    metric: none,
    log: none,
    signal: new AbortController().signal,
    runId: opts.runId ?? "cli",
    nodeId: opts.nodeId ?? "cli",
    dataset: none,
    dataTest: none,
    trial: none,
    chosenParams: none,
    environment: none,
    get registry(): Registry {
      if (!registry) throw new Error("no registry is read outside a run");
      return registry;
    },
    upstream: none,
    lineage: refuse("there is no lineage"),
    hashFile: opts.hashFile ?? (async () => ""),
  };
}
