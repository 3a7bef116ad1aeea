import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createTestProject, type TestProject } from "../engine/testing";
import {
  birthByName,
  nameWords,
  personalByName,
  phoneByName,
  SCAN_TEXT_LIMIT,
  sampleLine,
  scanTable,
} from "./scan";
import type { ScanReport } from "./types";

/** The answers of fixtures/generate.py: Luhn, mod-97, ipaddress and dates computed in Python, not by the scan. */
interface Expected {
  rows: number;
  columns: Record<string, Record<string, number>>;
}

const GENERATOR = join(__dirname, "fixtures", "generate.py");

function generate(dir: string, rows: number, seed: number): { dir: string; expected: Expected } {
  execFileSync("/usr/bin/python3", [GENERATOR, dir, "--rows", String(rows), "--seed", String(seed)]);
  return { dir, expected: JSON.parse(readFileSync(join(dir, "expected.json"), "utf8")) as Expected };
}

const sharesOf = (report: ScanReport) =>
  Object.fromEntries(
    report.columns.map((c) => [c.column, Object.fromEntries(c.kinds.map((k) => [k.kind, k.share]))]),
  );

describe("scanTable against generated data with known answers", () => {
  let p: TestProject;
  let gen: { dir: string; expected: Expected };
  let report: ScanReport;
  beforeAll(async () => {
    p = await createTestProject();
    gen = generate(p.dir, 3000, 11);
    const csv = join(gen.dir, "people.csv").replaceAll("'", "''");
    const table = await p.table("people", `SELECT * FROM read_csv('${csv}', max_line_size = 4000000)`);
    report = await scanTable(p.sql, table, { source: "people.csv" });
  });
  afterAll(async () => {
    await p.close();
  });

  it("finds exactly the kinds and shares Python computed, decoys included", () => {
    expect(report.rows).toBe(gen.expected.rows);
    expect(report.sampled).toBe(gen.expected.rows);
    const got = sharesOf(report);
    expect(Object.keys(got).sort()).toEqual(Object.keys(gen.expected.columns).sort());
    for (const [column, kinds] of Object.entries(gen.expected.columns)) {
      expect(Object.keys(got[column]!).sort(), column).toEqual(Object.keys(kinds).sort());
      for (const [kind, share] of Object.entries(kinds))
        expect(got[column]![kind], `${column} ${kind}`).toBeCloseTo(share, 12);
    }
  });

  it("lists nothing for the decoys: Luhn failures, bad IBANs, 999.1.1.1, order ids, order dates", () => {
    const got = sharesOf(report);
    expect(got.card_like).toEqual({});
    expect(got.order_id).toEqual({});
    expect(got.event_date).toEqual({});
    expect(got.product_name).toEqual({});
    expect(got.filename).toEqual({});
    expect(got.amount).toEqual({});
  });

  it("gives up to 3 masked examples per kind, none in clear", () => {
    const card = report.columns.find((c) => c.column === "card")!.kinds[0]!;
    expect(card.examples.length).toBe(3);
    for (const e of card.examples) expect(e).toMatch(/^\*\*\*\* \*\*\*\* \*\*\*\* \d{4}$/);
    const email = report.columns.find((c) => c.column === "email")!.kinds[0]!;
    for (const e of email.examples) expect(e).toMatch(/^[a-z]\*\*\*@[a-z]\*\*\*\.[a-z]+$/);
    const dob = report.columns.find((c) => c.column === "dob")!.kinds[0]!;
    for (const e of dob.examples) expect(e).toMatch(/^(19|20)\d\d-\*\*-\*\*$/);
    const first = report.columns.find((c) => c.column === "first_name")!.kinds[0]!;
    expect(first).toMatchObject({ kind: "personal_name", share: 1, by: "name" });
    for (const e of first.examples) expect(e).toMatch(/^[A-Z]\*\*\*$/);
    const csv = readFileSync(join(gen.dir, "people.csv"), "utf8");
    for (const c of report.columns)
      for (const k of c.kinds) for (const e of k.examples) expect(csv.includes(`"${e}"`), e).toBe(false);
  });
});

describe("scanTable edge cases", () => {
  let p: TestProject;
  beforeEach(async () => {
    p = await createTestProject();
  });
  afterEach(() => p.close());

  it("samples the stated number of rows, repeatably by seed, and says so", async () => {
    // 1 row in 4 is a valid e-mail address.
    const t = await p.table(
      "big",
      "SELECT CASE WHEN i % 4 = 0 THEN 'user' || i || '@example.com' ELSE 'row ' || i END AS contact FROM range(200000) r(i)",
    );
    const a = await scanTable(p.sql, t, { sampleSize: 5000, seed: 7 });
    const b = await scanTable(p.sql, t, { sampleSize: 5000, seed: 7 });
    expect(a).toMatchObject({ rows: 200000, sampled: 5000, sampleSize: 5000, seed: 7 });
    expect(b).toEqual(a);
    const share = a.columns[0]!.kinds[0]!.share;
    // 5000 draws of p = 0.25: the standard error is 0.006; 5 of them is 0.03.
    expect(Math.abs(share - 0.25)).toBeLessThan(0.03);
    expect(sampleLine(a)).toBe("scanned 5,000 of 200,000 rows (reservoir sample, seed 7)");
    expect(sampleLine({ rows: 12, sampled: 12, seed: 42 })).toBe("scanned all 12 rows");
    const tables = await p.sql.all(
      "SELECT table_name FROM duckdb_tables() WHERE table_name LIKE 'privacy_scan%'",
    );
    expect(tables).toEqual([]);
  });

  it("shares are over non-null values; an empty table and an all-null column find nothing by value", async () => {
    const t = await p.table(
      "nulls",
      "SELECT * FROM (VALUES ('a@example.com', NULL::VARCHAR), (NULL, NULL), (NULL, NULL), ('nope', NULL)) t(mail, other)",
    );
    const r = await scanTable(p.sql, t);
    expect(r.columns[0]!.kinds).toEqual([
      { kind: "email", share: 0.5, examples: ["a***@e***.com"], by: "values" },
    ]);
    expect(r.columns[1]!.kinds).toEqual([]);
    const empty = await p.table("empty", "SELECT 'x@y.com' AS email, 'Jane' AS surname WHERE false");
    const e = await scanTable(p.sql, empty);
    expect(e).toMatchObject({ rows: 0, sampled: 0 });
    expect(e.columns).toEqual([
      { column: "email", kinds: [] },
      { column: "surname", kinds: [{ kind: "personal_name", share: 1, examples: [], by: "name" }] },
    ]);
  });

  it("does not look past 256 bytes of a value: a 10 MB text is matched by no kind and counts as a value", async () => {
    const t = await p.table(
      "huge",
      `SELECT * FROM (VALUES ('x@example.com' || repeat('m', 10000000)), ('y@example.com')) t(v)`,
    );
    const r = await scanTable(p.sql, t);
    expect(r.columns[0]!.kinds).toEqual([
      { kind: "email", share: 0.5, examples: ["y***@e***.com"], by: "values" },
    ]);
    expect(SCAN_TEXT_LIMIT).toBe(256);
  });

  it("reads integer columns as cards (Luhn) and, under a phone name, as phones; never DOUBLE columns", async () => {
    const t = await p.table(
      "nums",
      `SELECT * FROM (VALUES
        (4242424242424242::BIGINT, 4242424242424242::HUGEINT, 4242424242424242::DOUBLE, 15551234567::BIGINT, 15551234567::BIGINT),
        (4242424242424241::BIGINT, 4242424242424241::HUGEINT, 4242424242424241::DOUBLE, 7::BIGINT, 7::BIGINT)
      ) t(card_b, card_h, card_d, mobile, order_no)`,
    );
    const r = sharesOf(await scanTable(p.sql, t));
    expect(r).toEqual({
      card_b: { card: 0.5 },
      card_h: { card: 0.5 },
      card_d: {},
      mobile: { phone: 0.5 },
      order_no: {},
    });
  });

  it("a BIGINT column of millisecond timestamps or 19-digit ids is not cards, though a tenth pass Luhn", async () => {
    // 1700000000000 + 7919·i: 13 digits starting with 1; Luhn is checked here, independently of the scan.
    const luhn = (d: string) =>
      [...d].reverse().reduce((sum, c, i) => {
        const x = Number(c) * (i % 2 ? 2 : 1);
        return sum + (x > 9 ? x - 9 : x);
      }, 0) %
        10 ===
      0;
    const passing = Array.from({ length: 200 }, (_, i) => String(1700000000000 + 7919 * i)).filter(luhn);
    expect(passing.length).toBeGreaterThan(5);
    const t = await p.table(
      "stamps",
      `SELECT 1700000000000 + 7919 * i AS created_ms, 1234567890123456789 - 104729 * i AS event_id,
              CAST(1700000000000 + 7919 * i AS VARCHAR) AS created_text FROM range(200) r(i)`,
    );
    expect(sharesOf(await scanTable(p.sql, t))).toEqual({ created_ms: {}, event_id: {}, created_text: {} });
  });

  it("tells phones from dates, cards, IBANs, IPs and plain integers", async () => {
    const values: [string, string[]][] = [
      ["+44 20 7946 0958", ["phone"]],
      ["+14155552671", ["phone"]],
      ["(555) 123-4567", ["phone"]],
      ["555-123-4567", ["phone"]],
      ["555.123.4567", ["phone"]],
      ["020 7946 0958", ["phone"]],
      ["0044 20 7946 0958", ["phone"]],
      ["5551234567", []],
      ["0012345678", []],
      ["2024-10-15", []],
      ["15.10.2024", []],
      ["2024-10-15 12:30:00", []],
      ["4242 4242 4242 4242", ["card"]],
      ["4242-4242-4242-4242", ["card"]],
      ["3782 822463 10005", ["card"]],
      ["4242 4242 4242 4241", []],
      ["DE89 3704 0044 0532 0130 00", ["iban"]],
      ["DE89370400440532013000", ["iban"]],
      ["GB82WEST12345698765432", ["iban"]],
      ["DE88370400440532013000", []],
      ["192.168.1.1", ["ipv4"]],
      ["999.1.1.1", []],
      ["2001:db8::8a2e:370:7334", ["ipv6"]],
      ["2001:0db8:85a3:0000:0000:8a2e:0370:7334", ["ipv6"]],
      ["::1", ["ipv6"]],
      ["::ffff:192.0.2.1", ["ipv6"]],
      ["1:2:3:4:5:6:7:8:9", []],
      ["12345", []],
    ];
    const rows = values.map(([v], i) => `(${i}, '${v}')`).join(", ");
    const t = await p.table("each", `SELECT * FROM (VALUES ${rows}) t(i, v)`);
    for (const [i, [v, kinds]] of values.entries()) {
      const one = await p.table(`one_${i}`, `SELECT v AS value FROM ${t.name} WHERE i = ${i}`);
      const r = await scanTable(p.sql, one);
      expect(
        r.columns[0]!.kinds.map((k) => k.kind),
        v,
      ).toEqual(kinds);
    }
  });

  it("birth dates need a birth name; DATE and text columns both", async () => {
    const t = await p.table(
      "dates",
      `SELECT * FROM (VALUES
        (DATE '1984-03-07', DATE '1984-03-07', '07.03.1984', '1984-03-07', DATE '1850-01-01'),
        (DATE '1990-12-31', DATE '1990-12-31', 'unknown', '1990-12-31', DATE '1990-01-01')
      ) t(date_of_birth, order_date, geburtsdatum, created, dob)`,
    );
    const r = await scanTable(p.sql, t);
    expect(sharesOf(r)).toEqual({
      date_of_birth: { birthdate: 1 },
      order_date: {},
      geburtsdatum: { birthdate: 0.5 },
      created: {},
      dob: { birthdate: 0.5 },
    });
    expect([...r.columns[0]!.kinds[0]!.examples].sort()).toEqual(["1984-**-**", "1990-**-**"]);
  });

  it("leaves lists, structs, blobs and floating-point columns alone", async () => {
    const t = await p.table(
      "shapes",
      `SELECT ['a@example.com'] AS mails, {'m': 'a@example.com'} AS s, 'a@example.com'::BLOB AS b, 1.5::DOUBLE AS d,
              'a@example.com'::VARCHAR AS ok`,
    );
    expect(sharesOf(await scanTable(p.sql, t))).toEqual({ mails: {}, s: {}, b: {}, d: {}, ok: { email: 1 } });
  });

  it("a column matching several kinds lists each", async () => {
    const t = await p.table(
      "contact",
      `SELECT * FROM (VALUES ('a@example.com'), ('+14155552671'), ('10.0.0.1'), ('x')) t("con""tact's x")`,
    );
    const r = await scanTable(p.sql, t);
    expect(sharesOf(r)).toEqual({ "con\"tact's x": { email: 0.25, phone: 0.25, ipv4: 0.25 } });
  });

  it("refuses a bad sample size or seed", async () => {
    const t = await p.table("one", "SELECT 1 AS x");
    await expect(scanTable(p.sql, t, { sampleSize: 0 })).rejects.toThrow(/sample size/);
    await expect(scanTable(p.sql, t, { seed: -1 })).rejects.toThrow(/seed/);
  });
});

describe("column names", () => {
  it("splits names into words", () => {
    expect(nameWords("firstName")).toEqual(["first", "name"]);
    expect(nameWords("date_of_birth")).toEqual(["date", "of", "birth"]);
    expect(nameWords("HTTPRequestURL")).toEqual(["http", "request", "url"]);
  });
  it.each([
    ["name", true],
    ["first_name", true],
    ["firstName", true],
    ["Surname", true],
    ["last-name", true],
    ["full_name", true],
    ["user_name", true],
    ["username", true],
    ["customer_name", true],
    ["address", true],
    ["home_address", true],
    ["street", true],
    ["postcode", true],
    ["postal_code", true],
    ["zip", true],
    ["zip_code", true],
    ["ssn", true],
    ["social_security_number", true],
    ["passport_no", true],
    ["national_id", true],
    ["tax_id", true],
    ["driver_license", true],
    ["filename", false],
    ["file_name", false],
    ["hostname", false],
    ["host_name", false],
    ["product_name", false],
    ["name_of_product", false],
    ["ip_address", false],
    ["email_address", false],
    ["zip_file", false],
    ["species", false],
    ["rename_count", false],
  ])("%s personal by name: %s", (name, personal) => {
    expect(personalByName(name)).toBe(personal);
  });
  it("knows birth and phone names", () => {
    for (const n of ["dob", "DOB", "date_of_birth", "birthDate", "birthday", "geburtsdatum"])
      expect(birthByName(n), n).toBe(true);
    for (const n of ["order_date", "created_at", "birth_rate_x"])
      expect(birthByName(n), n).toBe(n === "birth_rate_x");
    for (const n of ["phone", "mobile_number", "tel", "customerPhone"]) expect(phoneByName(n), n).toBe(true);
    expect(phoneByName("telemetry")).toBe(false);
  });
});
