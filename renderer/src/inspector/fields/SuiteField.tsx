import "./SuiteField.css";
import { useEffect, useRef, useState } from "react";
import {
  type ExpectationTypeInfo,
  type LoadedSuite,
  type SuiteListing,
  suiteApi,
} from "../../panels/validation/suiteApi";
import { inlineSuiteProblems } from "../../panels/validation/suiteCheck";
import { messageOf } from "../../services/errors";
import { SuiteGovernance } from "./SuiteGovernance";
import type { FieldProps } from "./types";
import { useDraft } from "./useDraft";

const INLINE = "\0inline";
const NEW_INLINE = { expectation_suite_name: "inline", expectations: [] };

/** The expectation types, asked once per page (they are the runner's, fixed while the app runs). */
let typesOnce: Promise<ExpectationTypeInfo[]> | null = null;
const expectationTypes = () => {
  typesOnce ??= suiteApi.listExpectationTypes({}).catch(() => {
    typesOnce = null;
    return [];
  });
  return typesOnce;
};

const format = (v: unknown) => (v === undefined ? "" : JSON.stringify(v, null, 2));
function parseJson(text: string): { value: unknown } | { error: string } {
  try {
    return { value: JSON.parse(text) };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

type SuiteValue = { path: string } | { inline: unknown } | undefined;
function readValue(value: unknown): SuiteValue {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const v = value as Record<string, unknown>;
    if (typeof v.path === "string") return { path: v.path };
    if ("inline" in v) return { inline: v.inline };
  }
  return undefined;
}

/**
 * The suite file chosen: how many expectations it has, its problems as
 * loadSuite reports them, and its owner, purpose, review date and deprecation.
 */
function SuiteFileSummary({
  path,
  suitePaths,
  onSaved,
}: {
  path: string;
  suitePaths: string[];
  onSaved(): void;
}) {
  const [loaded, setLoaded] = useState<LoadedSuite | { error: string } | null>(null);
  const [saved, setSaved] = useState(0);
  const shown = useRef(path);
  useEffect(() => {
    let live = true;
    void saved;
    // After a save the old summary stays until the file is read again; another file starts blank.
    if (shown.current !== path) setLoaded(null);
    shown.current = path;
    suiteApi
      .loadSuite({ path })
      .then((s) => live && setLoaded(s))
      .catch((e: unknown) => live && setLoaded({ error: messageOf(e) }));
    return () => {
      live = false;
    };
  }, [path, saved]);
  if (!loaded) return <div className="field-help">Reading {path}…</div>;
  if ("error" in loaded) return <div className="field-message">{loaded.error}</div>;
  return (
    <>
      {loaded.suite && (
        <div className="field-help" data-testid="suite-summary">
          {loaded.suite.expectation_suite_name}: {loaded.suite.expectations.length} expectation
          {loaded.suite.expectations.length === 1 ? "" : "s"}
          {loaded.suite.meta?.dagwood?.deprecated && (
            <span className="suite-deprecated">
              {" "}
              · deprecated
              {loaded.suite.meta.dagwood.deprecated.replacement
                ? ` → use ${loaded.suite.meta.dagwood.deprecated.replacement}`
                : ""}
            </span>
          )}
        </div>
      )}
      {loaded.problems.map((p) => (
        <div className="field-message" key={`${p.path}:${p.message}`} data-testid="suite-problem">
          {p.path ? `${p.path}: ` : ""}
          {p.message}
        </div>
      ))}
      {loaded.suite && (
        <SuiteGovernance
          key={path}
          path={path}
          governance={loaded.suite.meta?.dagwood}
          suitePaths={suitePaths}
          onSaved={() => {
            setSaved((n) => n + 1);
            onSaved();
          }}
        />
      )}
    </>
  );
}

/** The suite written into the pipeline: JSON, applied when it parses, with early hints on its shape and types. */
function InlineSuite({
  path,
  value,
  onChange,
  invalid,
}: Omit<FieldProps, "schema" | "columns" | "paramNames"> & {
  value: unknown;
}) {
  const [draft, update] = useDraft(value, format, parseJson);
  const [types, setTypes] = useState<ExpectationTypeInfo[] | undefined>(undefined);
  useEffect(() => {
    let live = true;
    void expectationTypes().then((t) => live && setTypes(t.length ? t : undefined));
    return () => {
      live = false;
    };
  }, []);
  const parsed = parseJson(draft);
  const hints = "value" in parsed ? inlineSuiteProblems(parsed.value, types) : [];
  return (
    <>
      <textarea
        id={`param-${path}-inline`}
        data-testid={`param-${path}-inline`}
        className={`field-input mono suite-inline${invalid || "error" in parsed || hints.length ? " invalid" : ""}`}
        rows={Math.min(14, Math.max(4, draft.split("\n").length))}
        value={draft}
        spellCheck={false}
        aria-label="Inline suite (Great Expectations suite JSON)"
        onChange={(e) => {
          const next = update(e.target.value);
          if ("value" in next) onChange({ inline: next.value });
        }}
      />
      {"error" in parsed && <div className="field-message">Not JSON yet: {parsed.error}</div>}
      {hints.map((h) => (
        <div className="field-message" key={`${h.path}:${h.message}`} data-testid="suite-problem">
          {h.message}
        </div>
      ))}
    </>
  );
}

/**
 * validate.expectations' `suite`: one of the project's suite files
 * (expectations/*.json, from listSuites), or a suite typed inline as JSON.
 */
export function SuiteField({ path, value, onChange, invalid }: FieldProps) {
  const current = readValue(value);
  const [suites, setSuites] = useState<SuiteListing[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [asked, setAsked] = useState(0);
  useEffect(() => {
    let live = true;
    void asked;
    suiteApi
      .listSuites({})
      .then((list) => {
        if (!live) return;
        setSuites(list);
        setError(null);
      })
      .catch((e: unknown) => live && setError(messageOf(e)));
    return () => {
      live = false;
    };
  }, [asked]);
  const selected = current === undefined ? "" : "path" in current ? current.path : INLINE;
  const known = !current || !("path" in current) || suites?.some((s) => s.path === current.path);
  return (
    <div className="suite-field">
      <select
        id={`param-${path}`}
        data-testid={`param-${path}`}
        className={`field-input${invalid ? " invalid" : ""}`}
        value={selected}
        onFocus={() => setAsked((n) => n + 1)}
        onChange={(e) => {
          const v = e.target.value;
          if (v === "") onChange(undefined);
          else if (v === INLINE) {
            if (current && "inline" in current) return;
            if (!current) onChange({ inline: NEW_INLINE });
            // From a file: start from a copy of its suite, to edit in the pipeline.
            else
              void suiteApi
                .loadSuite({ path: current.path })
                .then((l) => onChange({ inline: l.suite ?? NEW_INLINE }))
                .catch(() => onChange({ inline: NEW_INLINE }));
          } else onChange({ path: v });
        }}
      >
        <option value="">— choose a suite —</option>
        {suites?.map((s) => (
          <option key={s.path} value={s.path}>
            {s.path} · {s.expectations} expectation{s.expectations === 1 ? "" : "s"}
            {s.problems ? ` · ${s.problems} problem${s.problems === 1 ? "" : "s"}` : ""}
            {s.governance.deprecated ? " · deprecated" : ""}
          </option>
        ))}
        {!known && current && "path" in current && (
          <option value={current.path}>{current.path} (not in expectations/)</option>
        )}
        <option value={INLINE}>Inline suite (JSON in the pipeline)</option>
      </select>
      {error && <div className="field-message">Cannot list the suites: {error}</div>}
      {suites?.length === 0 && !current && (
        <div className="field-help">
          No suites in expectations/ yet: use "Create expectations" on a profile, or{" "}
          <span className="mono">dagwood expect suggest</span>.
        </div>
      )}
      {current && "path" in current && (
        <SuiteFileSummary
          path={current.path}
          suitePaths={suites?.map((s) => s.path) ?? []}
          onSaved={() => setAsked((n) => n + 1)}
        />
      )}
      {current && "inline" in current && (
        <InlineSuite path={path} value={current.inline} onChange={onChange} invalid={invalid} />
      )}
    </div>
  );
}
