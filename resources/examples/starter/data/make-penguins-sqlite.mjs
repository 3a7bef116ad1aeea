// Builds data/penguins.sqlite (the `penguins_db` connection of dagwood.json) from data/penguins.csv:
// one table `penguins` with an increasing `id` (the row's place in the CSV, from 1), so the
// penguins-db pipeline can read it in full or incrementally. Run from the repository root:
//   node resources/examples/starter/data/make-penguins-sqlite.mjs [out.sqlite]
// nodes/ingest-database-example.test.ts rebuilds it and checks the shipped file holds the same rows.
import { readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] ?? join(here, "penguins.sqlite");
const [header, ...lines] = readFileSync(join(here, "penguins.csv"), "utf8").trim().split("\n");
if (header !== "species,island,beak_length_mm,beak_depth_mm,flipper_length_mm,body_mass_g,sex")
  throw new Error(`penguins.csv has other columns than expected: ${header}`);

rmSync(out, { force: true });
const db = new Database(out);
db.exec(`CREATE TABLE penguins (
  id INTEGER PRIMARY KEY, species TEXT NOT NULL, island TEXT NOT NULL,
  beak_length_mm REAL, beak_depth_mm REAL, flipper_length_mm INTEGER, body_mass_g INTEGER, sex TEXT)`);
const insert = db.prepare("INSERT INTO penguins VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
const num = (v) => (v === "" ? null : Number(v));
db.transaction(() => {
  lines.forEach((line, i) => {
    // No field of penguins.csv is quoted or holds a comma.
    const [species, island, bl, bd, fl, bm, sex] = line.split(",");
    insert.run(i + 1, species, island, num(bl), num(bd), num(fl), num(bm), sex === "" ? null : sex);
  });
})();
db.close();
console.log(`${out}: ${lines.length} penguins`);
