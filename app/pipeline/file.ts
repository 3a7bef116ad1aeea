import { open, stat } from "node:fs/promises";
import { writeFileAtomic } from "../store/atomic-write";
import { serializePipeline } from "./canonical";
import { PIPELINE_LIMITS, type Pipeline } from "./schema";
import { fileSizeProblem, type ParseResult, parsePipelineText } from "./validate";

/** Reads and parses a pipeline file; an unreadable, oversized or non-file path is one more problem, not a throw. */
export async function loadPipelineFile(path: string): Promise<ParseResult & { text?: string }> {
  let text: string;
  try {
    // The size is checked before reading: a 300 MB "pipeline" is refused, not loaded and stored with the run.
    const info = await stat(path);
    if (info.isDirectory())
      return { problems: [{ path: "$", message: `${path} is a folder, not a pipeline file` }] };
    const tooBig = fileSizeProblem(info.size);
    if (tooBig) return { problems: [tooBig] };
    const bytes = await readCapped(path, PIPELINE_LIMITS.fileBytes + 1);
    const over = fileSizeProblem(bytes.length);
    if (over)
      return {
        problems: [
          { ...over, message: over.message.replace(/^The file is [\d.]+ MiB/, "The file is larger") },
        ],
      };
    text = bytes.toString("utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const message =
      code === "ENOENT" ? `No such file: ${path}` : `Cannot read ${path}: ${(e as Error).message}`;
    return { problems: [{ path: "$", message }] };
  }
  return { ...parsePipelineText(text), text };
}

/** At most `limit` bytes of a file: a pipe or device (`/dev/zero`) has no size to check beforehand. */
async function readCapped(path: string, limit: number): Promise<Buffer> {
  const handle = await open(path, "r");
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    while (total < limit) {
      const chunk = Buffer.alloc(Math.min(1 << 20, limit - total));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      total += bytesRead;
    }
    return Buffer.concat(chunks);
  } finally {
    await handle.close();
  }
}

export async function savePipelineFile(path: string, pipeline: Pipeline): Promise<void> {
  await writeFileAtomic(path, serializePipeline(pipeline));
}
