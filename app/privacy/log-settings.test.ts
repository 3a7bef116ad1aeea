import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { updateDatasetSettings } from "../project/datasets";
import { readProjectSettings } from "../project/project";
import { setLogPolicy } from "./log-settings";

let dir = "";
afterEach(() => rmSync(dir, { recursive: true, force: true }));

it("a dataset edit and a policy edit made at once both land in dagwood.json", async () => {
  dir = mkdtempSync(join(tmpdir(), "dagwood-log-settings-"));
  writeFileSync(
    join(dir, "dagwood.json"),
    '{\n  // the team\'s project\n  "name": "p",\n  "datasets": { "customers": { "path": "data/customers.csv" } }\n}\n',
  );
  await Promise.all([
    updateDatasetSettings(dir, "customers", { owner: "ana" }),
    setLogPolicy(dir, "churn", { tagged: "drop" }, "ana"),
    updateDatasetSettings(dir, "customers", { columns: { email: { tags: ["pii"] } } }),
  ]);
  const settings = readProjectSettings(dir);
  expect(settings.datasets.customers?.owner).toBe("ana");
  expect(settings.datasets.customers?.columns).toEqual({ email: { tags: ["pii"] } });
  expect(settings.privacy.models.churn?.tagged).toBe("drop");
  expect(readFileSync(join(dir, "dagwood.json"), "utf8")).toContain("// the team's project");
});
