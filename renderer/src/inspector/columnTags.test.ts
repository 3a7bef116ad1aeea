import { describe, expect, it } from "vitest";
import { editColumnTags, outputRows, readColumnTags } from "./columnTags";

describe("an ingest node's columnTags param", () => {
  it("reads only column → tag lists, ignoring what the core will report", () => {
    expect(readColumnTags({ email: ["pii"], bad: "pii", n: [1, "x"] })).toEqual({ email: ["pii"], n: ["x"] });
    expect(readColumnTags(undefined)).toEqual({});
    expect(readColumnTags(["pii"])).toEqual({});
  });

  it("adds a tag once, and removing the last tag of the last column drops the param", () => {
    const one = editColumnTags({}, "email", "pii", true);
    expect(one).toEqual({ email: ["pii"] });
    expect(editColumnTags(one!, "email", "pii", true)).toEqual({ email: ["pii"] });
    const two = editColumnTags(one!, "phone", "sensitive", true);
    expect(two).toEqual({ email: ["pii"], phone: ["sensitive"] });
    expect(editColumnTags(two!, "phone", "sensitive", false)).toEqual({ email: ["pii"] });
    expect(editColumnTags(one!, "email", "pii", false)).toBeUndefined();
  });
});

describe("a node's output rows", () => {
  const tag = { tag: "pii", origin: { dataset: "customers", column: "email" }, via: [] };
  it("keeps the inferred order and types, adds the run's tags, and lists tagged columns inference missed", () => {
    const rows = outputRows(
      [
        { name: "id", type: "BIGINT" },
        { name: "email", type: "VARCHAR" },
      ],
      { email: [tag], extra: [tag] },
    );
    expect(rows).toEqual([
      { name: "id", type: "BIGINT", tags: [] },
      { name: "email", type: "VARCHAR", tags: [tag] },
      { name: "extra", type: "", tags: [tag] },
    ]);
    expect(outputRows(undefined, undefined)).toEqual([]);
  });
});
