import { randomBytes } from "node:crypto";
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { serializePipeline } from "./canonical";
import type { Pipeline } from "./schema";
import { type ParseResult, parsePipelineText } from "./validate";

/** Reads and parses a pipeline file; an unreadable file is one more problem, not a throw. */
export async function loadPipelineFile(path: string): Promise<ParseResult & { text?: string }> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const message =
      code === "ENOENT" ? `No such file: ${path}` : `Cannot read ${path}: ${(e as Error).message}`;
    return { problems: [{ path: "$", message }] };
  }
  return { ...parsePipelineText(text), text };
}

/** Writes text to a file atomically: a crash leaves either the old file or the new one, never half of one. */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    await writeFile(tmp, text, { flush: true });
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

export async function savePipelineFile(path: string, pipeline: Pipeline): Promise<void> {
  await writeFileAtomic(path, serializePipeline(pipeline));
}
