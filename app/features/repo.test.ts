import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  checkFeatureRepo,
  FeatureRefError,
  FeatureRepoError,
  loadFeatureRepo,
  resolveFeatureRefs,
  ttlMs,
  viewJoinKeys,
} from "./repo";
import { FEATURES_FORMAT } from "./types";

const view = (name: string, entities: string[], features = ["a"]) => ({
  name,
  entities,
  ttl: "1d",
  source: { path: `data/${name}.parquet`, timestampField: "ts" },
  features: features.map((f) => ({ name: f, type: "Float64" })),
});

describe("feature definitions (features/*.json)", () => {
  let dir: string;
  const write = (file: string, content: unknown) =>
    writeFileSync(
      join(dir, "features", file),
      typeof content === "string" ? content : JSON.stringify(content),
    );
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-features-"));
    mkdirSync(join(dir, "features"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("loads definitions spread over files, resolving references across them", () => {
    write("entities.json", {
      format: FEATURES_FORMAT,
      entities: [
        { name: "driver", joinKeys: ["driver_id"] },
        { name: "trip", joinKeys: ["city", "trip_no"] },
      ],
    });
    write("views.json", {
      format: FEATURES_FORMAT,
      featureViews: [view("stats", ["driver", "trip"], ["a", "b", "c"])],
      featureServices: [{ name: "svc", features: ["stats:c", "stats"] }],
    });
    const repo = loadFeatureRepo(dir);
    expect([...repo.entities.keys()]).toEqual(["driver", "trip"]);
    expect(repo.files.get("feature view:stats")).toBe("features/views.json");
    expect(viewJoinKeys(repo, repo.views.get("stats")!)).toEqual(["driver_id", "city", "trip_no"]);
    // A service lists each feature once, in its order; `view` means all of the view's features.
    expect(resolveFeatureRefs(repo, { service: "svc" }).map((r) => r.feature)).toEqual(["c", "a", "b"]);
    expect(resolveFeatureRefs(repo, { features: ["stats:b"] })).toEqual([
      { view: "stats", feature: "b", type: "Float64" },
    ]);
  });

  it("reports every problem at once, each with its file and JSON path", () => {
    write("a.json", {
      format: FEATURES_FORMAT,
      entities: [{ name: "driver", joinKeys: ["driver_id"] }],
      featureViews: [view("stats", ["driver", "rider"]), view("dup", ["driver"])],
      featureServices: [{ name: "svc", features: ["stats:a", "stats:zzz", "nowhere:x"] }],
    });
    write("b.json", {
      format: FEATURES_FORMAT,
      entities: [{ name: "driver", joinKeys: ["id"] }],
      featureViews: [view("dup", ["driver"])],
    });
    write("c.json", {
      format: FEATURES_FORMAT,
      featureViews: [{ ...view("x", ["driver"]), ttl: "forever", extra: 1 }],
    });
    write("d.json", "{ not json");
    const { problems } = checkFeatureRepo(dir);
    const lines = problems.map((p) => `${p.file} ${p.path}: ${p.message}`);
    expect(lines).toContainEqual(
      'features/a.json featureViews[0].entities[1]: unknown entity "rider": define it in "entities" (known: driver)',
    );
    expect(lines).toContainEqual(
      'features/a.json featureServices[0].features[1]: feature view "stats" has no feature "zzz" (it has: a)',
    );
    expect(lines).toContainEqual(
      'features/a.json featureServices[0].features[2]: unknown feature view "nowhere" (known: stats, dup)',
    );
    expect(lines).toContainEqual(
      'features/b.json entities[0].name: entity "driver" is already defined in features/a.json: give one of them another name',
    );
    expect(lines).toContainEqual(
      'features/b.json featureViews[0].name: feature view "dup" is already defined in features/a.json: give one of them another name',
    );
    expect(lines.filter((l) => l.startsWith("features/c.json featureViews[0]"))).toHaveLength(2);
    expect(lines.some((l) => l.startsWith("features/c.json featureViews[0].ttl:"))).toBe(true);
    expect(lines.some((l) => /^features\/d\.json : not valid JSON/.test(l))).toBe(true);
    expect(() => loadFeatureRepo(dir)).toThrow(FeatureRepoError);
    expect(() => loadFeatureRepo(dir)).toThrow(
      /problems:\n {2}features\/a\.json at featureViews\[0\]\.entities\[1\]/,
    );
  });

  it("refuses a feature named like a join key or timestamp, listed twice, or keys shared by two entities", () => {
    write("a.json", {
      format: FEATURES_FORMAT,
      entities: [
        { name: "driver", joinKeys: ["id"] },
        { name: "car", joinKeys: ["id"] },
      ],
      featureViews: [view("v", ["driver", "car"], ["id", "ts", "x", "x"])],
    });
    const messages = checkFeatureRepo(dir).problems.map((p) => `${p.path}: ${p.message}`);
    expect(messages).toEqual([
      'featureViews[0].entities[1]: join key "id" belongs to both "driver" and "car": a view\'s entities need distinct join keys',
      'featureViews[0].features[0].name: "id" is a join key or timestamp column of the view, not a feature: remove it from "features"',
      'featureViews[0].features[1].name: "ts" is a join key or timestamp column of the view, not a feature: remove it from "features"',
      'featureViews[0].features[3].name: feature "x" is listed twice',
    ]);
  });

  it("an empty or missing features folder is an empty repo", () => {
    expect(loadFeatureRepo(dir).views.size).toBe(0);
    rmSync(join(dir, "features"), { recursive: true });
    expect(loadFeatureRepo(dir).entities.size).toBe(0);
  });

  it("refuses bad references in a request, naming them all", () => {
    write("a.json", {
      format: FEATURES_FORMAT,
      entities: [{ name: "driver", joinKeys: ["driver_id"] }],
      featureViews: [view("stats", ["driver"])],
    });
    const repo = loadFeatureRepo(dir);
    expect(() => resolveFeatureRefs(repo, { features: ["stats:nope", "other:a", "bad ref"] })).toThrow(
      'feature view "stats" has no feature "nope" (it has: a); unknown feature view "other" (known: stats); "bad ref" is not a feature reference: write view:feature',
    );
    expect(() => resolveFeatureRefs(repo, {})).toThrow(FeatureRefError);
    expect(() => resolveFeatureRefs(repo, { features: ["stats"], service: "s" })).toThrow(/either/);
    expect(() => resolveFeatureRefs(repo, { features: [] })).toThrow(/at least one/);
  });

  it("reads TTLs as Feast durations", () => {
    expect(ttlMs("0")).toBe(0);
    expect(ttlMs("1d")).toBe(86_400_000);
    expect(ttlMs("1.5h")).toBe(5_400_000);
    expect(ttlMs("30 m")).toBe(1_800_000);
    expect(() => ttlMs("1y")).toThrow(/not a duration/);
  });
});
