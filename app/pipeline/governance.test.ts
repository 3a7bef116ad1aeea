import { describe, expect, it } from "vitest";
import { serializePipeline } from "./canonical";
import { parsePipelineText } from "./validate";

const base = { format: "dagwood.pipeline/1", name: "churn", nodes: [] };
const parse = (extra: Record<string, unknown>) => parsePipelineText(JSON.stringify({ ...base, ...extra }));

describe("pipeline governance fields", () => {
  it("reads owner, purpose, reviewBy and deprecated, and writes them in the canonical order", () => {
    // Keys given out of order, the deprecation's too: the canonical text puts them in place.
    const { pipeline, problems } = parse({
      deprecated: { since: "2026-11-01", replacement: "pipelines/churn-v2.dag.json", reason: "Superseded" },
      reviewBy: "2027-03-31",
      purpose: "Weekly churn scores for the retention team",
      owner: "data-team",
    });
    expect(problems).toEqual([]);
    const text = serializePipeline(pipeline!);
    expect(Object.keys(JSON.parse(text))).toEqual([
      "format",
      "name",
      "owner",
      "purpose",
      "reviewBy",
      "deprecated",
      "params",
      "nodes",
      "edges",
    ]);
    expect(text).toContain(
      '"deprecated": {\n    "reason": "Superseded",\n    "replacement": "pipelines/churn-v2.dag.json",\n    "since": "2026-11-01"\n  }',
    );
    // Loading the canonical text and saving it again gives the same bytes.
    expect(serializePipeline(parsePipelineText(text).pipeline!)).toBe(text);
  });

  it("leaves a pipeline without them as it was (its text, and so its hash, unchanged)", () => {
    const { pipeline } = parse({ owner: "ana" });
    expect(serializePipeline(pipeline!)).toBe(
      `${JSON.stringify({ format: "dagwood.pipeline/1", name: "churn", owner: "ana", params: {}, nodes: [], edges: [] }, null, 2)}\n`,
    );
  });

  it("refuses malformed dates and deprecations, each at its JSON path with what to write", () => {
    const cases: [Record<string, unknown>, { path: string; message: RegExp }[]][] = [
      [{ reviewBy: "31/03/2027" }, [{ path: "$.reviewBy", message: /YYYY-MM-DD, e\.g\. 2027-03-31/ }]],
      [{ reviewBy: "2027-02-30" }, [{ path: "$.reviewBy", message: /not a calendar date/ }]],
      [{ reviewBy: "2027-13-01" }, [{ path: "$.reviewBy", message: /month is 01-12/ }]],
      [{ reviewBy: 20270331 }, [{ path: "$.reviewBy", message: /string/ }]],
      [
        { deprecated: { reason: "old", since: "yesterday" } },
        [{ path: "$.deprecated.since", message: /YYYY-MM-DD/ }],
      ],
      [{ deprecated: { replacement: "x" } }, [{ path: "$.deprecated.reason", message: /string/ }]],
      [{ deprecated: { reason: "" } }, [{ path: "$.deprecated.reason", message: />=1 character/ }]],
      [{ deprecated: true }, [{ path: "$.deprecated", message: /object/ }]],
      [
        { deprecated: { reason: "old", replacment: "v2" } },
        [{ path: "$.deprecated", message: /replacment/ }],
      ],
    ];
    for (const [extra, expected] of cases) {
      const { pipeline, problems } = parse(extra);
      expect(pipeline, JSON.stringify(extra)).toBeUndefined();
      expect(problems, JSON.stringify(extra)).toEqual(
        expected.map((e) => ({ path: e.path, message: expect.stringMatching(e.message) })),
      );
    }
  });

  it("takes a leap day and refuses the day after a month's end", () => {
    expect(parse({ reviewBy: "2028-02-29" }).problems).toEqual([]);
    expect(parse({ reviewBy: "2027-02-29" }).problems).toHaveLength(1);
    expect(parse({ reviewBy: "2027-04-31" }).problems).toHaveLength(1);
    expect(parse({ reviewBy: "2027-12-31" }).problems).toEqual([]);
  });
});
