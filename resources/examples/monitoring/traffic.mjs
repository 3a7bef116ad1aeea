#!/usr/bin/env node
/**
 * Traffic for the monitoring example: sends penguins from data/penguins.csv
 * to a `dagwood serve` one request a penguin, each with its own request id,
 * then posts the true species of each as feedback. Part-way through, the
 * bills are measured in centimetres instead of millimetres (beak_length_mm
 * and beak_depth_mm divided by 10): the shift the monitor is to notice.
 *
 *   DAGWOOD_TOKEN_SERVE=… node traffic.mjs [--url http://127.0.0.1:8765] [--model penguins]
 *       [--count 300] [--shift-after 100] [--seed 1] [--prefix ID] [--json]
 *
 * --shift-after N: the first N requests as measured for training, the rest in
 * centimetres (0: every request shifted). Plain Node (18+): fetch only.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";

const HERE = import.meta.dirname ?? new URL(".", import.meta.url).pathname;
const SHIFTED = ["beak_length_mm", "beak_depth_mm"];

const { values } = parseArgs({
  options: {
    url: { type: "string", default: process.env.DAGWOOD_URL ?? "http://127.0.0.1:8765" },
    model: { type: "string", default: "penguins" },
    count: { type: "string", default: "300" },
    "shift-after": { type: "string" },
    seed: { type: "string", default: "1" },
    prefix: { type: "string" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  process.stdout.write(
    "usage: DAGWOOD_TOKEN_SERVE=… node traffic.mjs [--url URL] [--model NAME] [--count N] [--shift-after N] [--seed S] [--prefix ID] [--json]\n",
  );
  process.exit(0);
}

function fail(message) {
  process.stderr.write(`traffic: ${message}\n`);
  process.exit(2);
}

const count = Number(values.count);
if (!Number.isInteger(count) || count < 1 || count > 100_000)
  fail(`--count must be 1 to 100000, got ${values.count}`);
const shiftAfter =
  values["shift-after"] === undefined ? Math.floor(count / 3) : Number(values["shift-after"]);
if (!Number.isInteger(shiftAfter) || shiftAfter < 0)
  fail(`--shift-after must be 0 or more, got ${values["shift-after"]}`);
const seed = Number(values.seed);
if (!Number.isInteger(seed)) fail(`--seed must be an integer, got ${values.seed}`);
const token = process.env.DAGWOOD_TOKEN_SERVE;
if (!token) fail("set DAGWOOD_TOKEN_SERVE to the server's token (feedback needs it)");
const base = values.url.replace(/\/+$/, "");
const model = encodeURIComponent(values.model);
const prefix = values.prefix ?? `t${Date.now().toString(36)}`;
const auth = { authorization: `Bearer ${token}`, "content-type": "application/json" };

/** penguins.csv as records: "" is missing (null); it has no quoted fields. */
function readPenguins() {
  const [head, ...lines] = readFileSync(join(HERE, "data", "penguins.csv"), "utf8")
    .trim()
    .split(/\r?\n/);
  const names = head.split(",");
  return lines.map((line) =>
    Object.fromEntries(line.split(",").map((v, i) => [names[i], v === "" ? null : v])),
  );
}

/** A small seeded generator (mulberry32), so one seed always sends the same penguins in the same order. */
function random(s) {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function call(path, init) {
  let res;
  try {
    res = await fetch(`${base}${path}`, init);
  } catch (e) {
    fail(
      `${base} did not answer (${e.cause?.message ?? e.message}): start it with dagwood serve, or pass --url`,
    );
  }
  const text = await res.text();
  if (!res.ok) fail(`${init?.method ?? "GET"} ${path} answered HTTP ${res.status}: ${text.slice(0, 300)}`);
  return { res, body: JSON.parse(text) };
}

const penguins = readPenguins();
const next = random(seed);
const { body: meta } = await call(`/v2/models/${model}`, { headers: auth });
const inputs = meta.inputs;
for (const input of inputs)
  if (!(input.name in penguins[0]))
    fail(`the model's input ${input.name} is not a column of data/penguins.csv`);

const versions = {};
/** Answers that named the true species, per version: the live accuracy of each arm is correct / versions. */
const correct = {};
const feedback = [];
const started = Date.now();
for (let i = 0; i < count; i++) {
  const row = penguins[Math.floor(next() * penguins.length)];
  const shifted = i >= shiftAfter;
  const id = `${prefix}-${i}`;
  const value = (name, datatype) => {
    const v = row[name];
    if (datatype === "BYTES") return v;
    if (v === null) return null;
    return shifted && SHIFTED.includes(name) ? Number(v) / 10 : Number(v);
  };
  const { res, body } = await call(`/v2/models/${model}/infer`, {
    method: "POST",
    headers: auth,
    body: JSON.stringify({
      id,
      inputs: inputs.map((t) => ({
        name: t.name,
        datatype: t.datatype,
        shape: [1, 1],
        data: [value(t.name, t.datatype)],
      })),
    }),
  });
  const version = res.headers.get("x-dagwood-model-version") ?? "?";
  versions[version] = (versions[version] ?? 0) + 1;
  const label = body.outputs.find((o) => o.name === "label")?.data[0];
  if (label === row.species) correct[version] = (correct[version] ?? 0) + 1;
  feedback.push({ id, label: row.species });
}
const finished = Date.now();
const { body: fb } = await call(`/v2/models/${model}/feedback`, {
  method: "POST",
  headers: auth,
  body: JSON.stringify({ feedback }),
});

/** The end of the watched window the last request fell in, from the first monitor of dagwood.json on this model. */
function windowEnd(at) {
  let monitors = {};
  try {
    monitors = JSON.parse(readFileSync(join(HERE, "dagwood.json"), "utf8")).monitors ?? {};
  } catch {
    return null;
  }
  const m = Object.values(monitors).find((x) => (x.deployedModel ?? x.model?.split("@")[0]) === values.model);
  const d = /^(\d+(?:\.\d+)?)\s*(m|h|d|w)$/.exec((m?.window ?? "1h").trim());
  if (!d) return null;
  const width = Number(d[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[d[2]];
  return new Date((Math.floor(at / width) + 1) * width).toISOString();
}

const summary = {
  sent: count,
  shifted: Math.max(0, count - shiftAfter),
  prefix,
  first: new Date(started).toISOString(),
  last: new Date(finished).toISOString(),
  versions,
  correct,
  feedback: { accepted: fb.accepted, unknownIds: fb.unknownIds.length },
  windowEnd: windowEnd(finished),
};
if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
else
  process.stdout.write(
    `Sent ${count} penguins to ${base} (${summary.shifted} with their bills in centimetres) between ${summary.first} and ${summary.last}; ` +
      `answered by version ${Object.entries(versions)
        .map(([v, n]) => `${v}: ${n} (${correct[v] ?? 0} right)`)
        .join(
          ", ",
        )}; ${fb.accepted} labels accepted${fb.unknownIds.length ? `, ${fb.unknownIds.length} ids unknown to the log` : ""}.\n` +
      (summary.windowEnd
        ? `The monitor's window of this traffic ends at ${summary.windowEnd} (dagwood monitor run --once --at ${summary.windowEnd} checks that window).\n`
        : ""),
  );
