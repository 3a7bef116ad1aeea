/**
 * `dagwood validate` checks what a valid plan can still get wrong, without
 * running: columns a param names that its input lacks (app/engine/schema.ts).
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Io, main } from "./main";

const STARTER = resolve(import.meta.dirname, "../../resources/examples/starter");
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "dagwood-validate-"));
  mkdirSync(join(dir, "data"));
  cpSync(join(STARTER, "data", "seattle-weather.csv"), join(dir, "data", "seattle-weather.csv"));
  writeFileSync(join(dir, "dagwood.json"), "{}");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The weather-model example, saved in the project with `target` on the logistic node. */
function weatherModel(target: string): { file: string; index: number } {
  const pipeline = JSON.parse(readFileSync(join(STARTER, "weather-model.dag.json"), "utf8"));
  const index = pipeline.nodes.findIndex((n: { id: string }) => n.id === "logistic");
  pipeline.nodes[index].params.target = target;
  const file = join(dir, `${target}.dag.json`);
  writeFileSync(file, JSON.stringify(pipeline));
  return { file, index };
}

/** Runs `dagwood validate <file> --json` in this process. */
async function validate(
  file: string,
): Promise<{ code: number; out: { valid: boolean; problems: unknown[] } }> {
  let stdout = "";
  const io = {
    stdout: {
      write: (t: string) => {
        stdout += t;
        return true;
      },
    },
    stderr: { write: () => true },
  } as unknown as Io;
  const code = await main(["validate", file, "--json"], io);
  return { code, out: JSON.parse(stdout) };
}

describe("dagwood validate", () => {
  it("names an unknown column before any run, and exits 2", async () => {
    const { file, index } = weatherModel("weathr");
    const { code, out } = await validate(file);
    expect(out).toEqual({
      file,
      valid: false,
      problems: [
        {
          path: `$.nodes[${index}].params.target`,
          message:
            'target "weathr" is not a column of split.train (columns: month, precipitation, temp_max, temp_min, wind, weather; did you mean "weather"?)',
        },
      ],
    });
    expect(code).toBe(2);
  });

  it("passes the pipeline once the column is right", async () => {
    const { file } = weatherModel("weather");
    const { code, out } = await validate(file);
    expect(out.problems).toEqual([]);
    expect(code).toBe(0);
  });
});
