import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DatasetSettingsError, findDatasetEntry, updateDatasetSettings } from "./datasets";
import { ProjectSettingsSchema, readProjectSettings } from "./project";

const dirs: string[] = [];
const folder = (dagwood?: string) => {
  const dir = mkdtempSync(join(tmpdir(), "dagwood-datasets-"));
  dirs.push(dir);
  if (dagwood !== undefined) writeFileSync(join(dir, "dagwood.json"), dagwood);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("findDatasetEntry", () => {
  const project = "/p/proj";
  const settings = ProjectSettingsSchema.parse({
    dataFolders: ["../shared"],
    datasets: {
      allFlights: { path: "data/flights/**/*.parquet" },
      flights2024: { path: "./data/flights/2024.parquet" },
      weather: { path: "weather-*.csv" },
      penguins: { path: "data/penguins.csv" },
      absolute: { path: "/srv/data/x.csv" },
    },
  });

  it("prefers an exact path over a glob that also matches", () => {
    expect(findDatasetEntry(settings, project, "/p/proj/data/flights/2024.parquet")?.name).toBe(
      "flights2024",
    );
    expect(findDatasetEntry(settings, project, "/p/proj/data/flights/2023/jan.parquet")?.name).toBe(
      "allFlights",
    );
  });

  it("matches paths relative to a data folder and absolute paths", () => {
    expect(findDatasetEntry(settings, project, "/p/shared/weather-2024.csv")?.name).toBe("weather");
    expect(findDatasetEntry(settings, project, "/srv/data/x.csv")?.name).toBe("absolute");
    expect(findDatasetEntry(settings, project, "/p/proj/data/penguins.csv")?.settings).toMatchObject({
      path: "data/penguins.csv",
      suites: [],
      onFailure: "warn",
    });
  });

  it("finds nothing for a file no entry names", () => {
    expect(findDatasetEntry(settings, project, "/p/proj/data/other.csv")).toBeUndefined();
    // A glob segment does not cross folders: weather-*.csv names files at the top of a folder only.
    expect(findDatasetEntry(settings, project, "/p/shared/old/weather-2020.csv")).toBeUndefined();
    expect(findDatasetEntry(settings, project, "/p/proj/data/flights/2024.csv")).toBeUndefined();
  });
});

describe("updateDatasetSettings", () => {
  const ORIGINAL = `{
    // The team's project
    "name": "flights",
    "dataFolders": ["../shared"],
    "targets": { "staging": { "url": "http://127.0.0.1:8000" } },
    "datasets": {
        "flights": {
            "path": "data/flights.parquet",
            "suites": ["expectations/flights.json"] // checked on every read
        }
    }
}
`;

  it("changes only the keys it is given, keeping comments, indentation and other keys", async () => {
    const dir = folder(ORIGINAL);
    const entry = await updateDatasetSettings(dir, "flights", {
      owner: "data-team",
      onFailure: "fail",
      reviewBy: "2027-03-31",
    });
    expect(entry).toMatchObject({
      path: "data/flights.parquet",
      suites: ["expectations/flights.json"],
      onFailure: "fail",
      owner: "data-team",
      reviewBy: "2027-03-31",
    });
    const text = readFileSync(join(dir, "dagwood.json"), "utf8");
    expect(text).toContain("// The team's project");
    expect(text).toContain('"suites": ["expectations/flights.json"], // checked on every read');
    expect(text).toContain('\n            "owner": "data-team"');
    const settings = readProjectSettings(dir);
    expect(settings.targets.staging?.url).toBe("http://127.0.0.1:8000");
    expect(settings.dataFolders).toEqual(["../shared"]);
    expect(settings.datasets.flights?.owner).toBe("data-team");
  });

  it("removes a key given null, and round-trips back to the original text", async () => {
    const dir = folder(ORIGINAL);
    await updateDatasetSettings(dir, "flights", { purpose: "Delay model training data" });
    expect(readProjectSettings(dir).datasets.flights?.purpose).toBe("Delay model training data");
    await updateDatasetSettings(dir, "flights", { purpose: null });
    expect(readFileSync(join(dir, "dagwood.json"), "utf8")).toBe(ORIGINAL);
  });

  it("creates an entry (and dagwood.json) for a new name with a path", async () => {
    const dir = folder();
    const entry = await updateDatasetSettings(dir, "penguins", {
      path: "data/penguins.csv",
      suites: ["expectations/penguins.json"],
      deprecated: { reason: "superseded", replacement: "penguins2" },
    });
    expect(entry.deprecated).toEqual({ reason: "superseded", replacement: "penguins2" });
    expect(readProjectSettings(dir).datasets.penguins?.suites).toEqual(["expectations/penguins.json"]);
    await expect(updateDatasetSettings(dir, "weather", { owner: "x" })).rejects.toThrow(
      /no dataset "weather"; to create it, give its "path"/,
    );
  });

  it("refuses bad names and bad values with what to do, writing nothing", async () => {
    const dir = folder(ORIGINAL);
    const bad = [
      [() => updateDatasetSettings(dir, "9lives", { path: "x.csv" }), /"9lives" is not a dataset name/],
      [() => updateDatasetSettings(dir, "a/b", { path: "x.csv" }), /not a dataset name/],
      [
        () => updateDatasetSettings(dir, "flights", { reviewBy: "31/03/2027" }),
        /datasets\.flights\.reviewBy: a date as YYYY-MM-DD/,
      ],
      [() => updateDatasetSettings(dir, "flights", { reviewBy: "2027-02-30" }), /not a calendar date/],
      [
        () => updateDatasetSettings(dir, "flights", { onFailure: "explode" as "fail" }),
        /datasets\.flights\.onFailure/,
      ],
      [
        () => updateDatasetSettings(dir, "flights", { deprecated: { reason: "" } }),
        /datasets\.flights\.deprecated\.reason/,
      ],
    ] as const;
    for (const [call, message] of bad) {
      const e = await call().catch((x) => x);
      expect(e).toBeInstanceOf(DatasetSettingsError);
      expect(e.code).toBe("invalid");
      expect(e.message).toMatch(message);
    }
    expect(readFileSync(join(dir, "dagwood.json"), "utf8")).toBe(ORIGINAL);
    expect(readdirSync(dir)).toEqual(["dagwood.json"]);
  });

  it("edits a one-line entry and a file with no datasets yet, keeping what else is there", async () => {
    const oneLine = '{"name": "x", "datasets": {"a": {"path": "a.csv"}}, "dataFolders": ["../d"]}\n';
    let dir = folder(oneLine);
    await updateDatasetSettings(dir, "a", { owner: "me", suites: ["expectations/a.json"] });
    expect(readProjectSettings(dir)).toMatchObject({
      name: "x",
      dataFolders: ["../d"],
      datasets: { a: { path: "a.csv", owner: "me", suites: ["expectations/a.json"] } },
    });
    dir = folder('{\n  "name": "x"\n}\n');
    await updateDatasetSettings(dir, "b", { path: "b.csv" });
    expect(readFileSync(join(dir, "dagwood.json"), "utf8")).toBe(
      '{\n  "name": "x",\n  "datasets": {\n    "b": {\n      "path": "b.csv"\n    }\n  }\n}\n',
    );
  });

  it("does not overwrite a dagwood.json that is not valid JSON", async () => {
    const broken = '{ "name": "x", "datasets": { "flights": { "path": "a.csv" } }\n';
    const dir = folder(broken);
    const e = await updateDatasetSettings(dir, "flights", { owner: "me" }).catch((x) => x);
    expect(e).toBeInstanceOf(DatasetSettingsError);
    expect(e.code).toBe("broken");
    expect(e.message).toMatch(/is not a valid JSON object \(at offset \d+\); it was left as it is/);
    expect(readFileSync(join(dir, "dagwood.json"), "utf8")).toBe(broken);
  });

  it("applies concurrent updates one after another, losing none", async () => {
    const dir = folder(ORIGINAL);
    await Promise.all([
      updateDatasetSettings(dir, "flights", { owner: "a" }),
      updateDatasetSettings(dir, "flights", { purpose: "b" }),
      updateDatasetSettings(dir, "weather", { path: "data/weather.csv" }),
    ]);
    const s = readProjectSettings(dir);
    expect(s.datasets.flights).toMatchObject({ owner: "a", purpose: "b" });
    expect(s.datasets.weather?.path).toBe("data/weather.csv");
  });
});
