/**
 * An ingest node's `columnTags` param (privacy, issue 19): tags on the
 * columns of a database table, or of a file with no dataset entry in
 * dagwood.json. A file that has an entry is tagged on its dataset page
 * (the Data view), where every pipeline reading it takes the tags from.
 * Edits are pipeline edits: the editor's undo takes them back.
 */
import { useEffect, useState } from "react";
import type { ScanReport } from "../../../app/values/privacy";
import { api } from "../api/client";
import { useData } from "../data/store";
import { TagChip } from "../data/TagChips";
import {
  formatShare,
  kindLabel,
  SUGGESTED_TAGS,
  sampleLine,
  tagProblem,
  untaggedFindings,
} from "../data/tags";
import { messageOf } from "../services/errors";
import { useUi } from "../store/ui";
import { type ColumnTagsValue, editColumnTags, readColumnTags } from "./columnTags";

/** The dagwood.json dataset entry whose file an ingest.file node reads (its path, or its latest version's file). */
export function useDatasetOf(path: unknown): string | null {
  const [name, setName] = useState<string | null>(null);
  useEffect(() => {
    if (typeof path !== "string" || !path) return setName(null);
    let live = true;
    api.listDatasets({}).then(
      (list) => {
        const entry = list.find((d) => d.configured && (d.path === path || d.latest?.source === path));
        if (live) setName(entry?.name ?? null);
      },
      () => live && setName(null),
    );
    return () => {
      live = false;
    };
  }, [path]);
  return name;
}

export function ColumnTagsParam({
  value,
  columns,
  dataset,
  table,
  onChange,
}: {
  value: unknown;
  /** The node's output columns as inferred (the picker's choices); undefined: not known yet. */
  columns: string[] | undefined;
  /** The dagwood.json dataset entry the node's file is, if any. */
  dataset: string | null;
  /** The workspace table the node's last run made (the scan reads it), if any. */
  table?: string | undefined;
  onChange(next: ColumnTagsValue | undefined): void;
}) {
  const current = readColumnTags(value);
  const [column, setColumn] = useState("");
  const [tag, setTag] = useState("");
  const [error, setError] = useState<string | null>(null);
  const tagged = Object.entries(current);
  const add = () => {
    const c = column.trim();
    const t = tag.trim().toLowerCase();
    if (!c) return setError("Pick the column to tag.");
    const problem = tagProblem(t, current[c] ?? []);
    if (problem) return setError(problem);
    onChange(editColumnTags(current, c, t, true));
    setTag("");
    setError(null);
  };
  return (
    <div className="column-tags-param" data-testid="column-tags-param">
      {dataset && (
        <p className="muted small" data-testid="column-tags-dataset">
          This file is the dataset <span className="mono">{dataset}</span>: tag its columns on{" "}
          <button
            type="button"
            className="link-button"
            onClick={() => {
              useData.getState().choose(dataset);
              useUi.getState().setView("data");
            }}
          >
            its page in the Data view
          </button>
          , and every pipeline that reads it takes them.
        </p>
      )}
      {tagged.length > 0 && (
        <div className="output-columns">
          {tagged.map(([c, tags]) => (
            <div key={c} className="output-column-head" data-testid={`param-tags-${c}`}>
              <span className="mono" title={c}>
                {c}
              </span>
              <span className="coltags">
                {tags.map((t) => (
                  <TagChip
                    key={t}
                    tag={t}
                    title={`${t}: set on ${c} by this node's columnTags`}
                    removeLabel={`Remove ${t} from ${c}`}
                    onRemove={() => onChange(editColumnTags(current, c, t, false))}
                  />
                ))}
              </span>
            </div>
          ))}
        </div>
      )}
      {(!dataset || tagged.length > 0) && (
        <form
          className="tag-add column-tags-form"
          onSubmit={(e) => {
            e.preventDefault();
            add();
          }}
        >
          <input
            className="field-input"
            aria-label="Column to tag"
            data-testid="column-tags-column"
            placeholder="column"
            list="column-tags-columns"
            value={column}
            onChange={(e) => setColumn(e.target.value)}
          />
          <datalist id="column-tags-columns">
            {(columns ?? []).map((c) => (
              <option key={c} value={c} />
            ))}
          </datalist>
          <input
            className="field-input"
            aria-label="Tag"
            data-testid="column-tags-tag"
            placeholder="pii"
            list="column-tags-suggested"
            value={tag}
            onChange={(e) => setTag(e.target.value)}
          />
          <datalist id="column-tags-suggested">
            {SUGGESTED_TAGS.map((t) => (
              <option key={t} value={t} />
            ))}
          </datalist>
          <button type="submit" className="button small">
            Tag
          </button>
        </form>
      )}
      {error && (
        <div className="tag-add-error" role="alert" data-testid="column-tags-error">
          {error}
        </div>
      )}
      {!dataset && table && (
        <ScanOutput
          table={table}
          current={current}
          onTag={(names) => {
            let next: ColumnTagsValue | undefined = current;
            for (const c of names) next = editColumnTags(next ?? {}, c, "pii", true);
            onChange(next);
          }}
        />
      )}
    </div>
  );
}

/** The scan of the table the node's last run made; what it finds is tagged pii on the node with a click. */
function ScanOutput({
  table,
  current,
  onTag,
}: {
  table: string;
  current: ColumnTagsValue;
  onTag(columns: string[]): void;
}) {
  const [scan, setScan] = useState<{ table: string; report: ScanReport } | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const report = scan?.table === table ? scan.report : null;
  const found = report?.columns.filter((c) => c.kinds.length) ?? [];
  const untagged = report ? untaggedFindings(report.columns, current) : [];
  return (
    <div className="scan-output" data-testid="scan-output">
      <div className="dataset-columns-head">
        <button
          type="button"
          className="button small"
          data-testid="scan-output-button"
          disabled={busy}
          title="Look for personal data in a sample of the table this node's last run read"
          onClick={() => {
            setBusy(true);
            setError(null);
            api.scanPrivacy({ source: table }).then(
              (r) => {
                setScan({ table, report: r });
                setBusy(false);
              },
              (e) => {
                setError(messageOf(e));
                setBusy(false);
              },
            );
          }}
        >
          {busy ? "Scanning…" : report ? "Scan again" : "Scan its output for personal data"}
        </button>
        {untagged.length > 1 && (
          <button
            type="button"
            className="button small primary"
            data-testid="scan-output-accept-all"
            title={`Tag ${untagged.join(", ")} as pii on this node`}
            onClick={() => onTag(untagged)}
          >
            Tag all as pii
          </button>
        )}
      </div>
      {error && (
        <div className="scan-error" role="alert">
          {error}
        </div>
      )}
      {report && (
        <div className="scan-line" data-testid="scan-output-sample">
          {sampleLine(report)} · {found.length ? `${found.length} with personal data` : "nothing found"}
        </div>
      )}
      {found.map((c) => (
        <div key={c.column} className="scan-output-column" data-testid={`scan-output-${c.column}`}>
          <div className="output-column-head">
            <span className="mono" title={c.column}>
              {c.column}
            </span>
            {(current[c.column] ?? []).includes("pii") ? (
              <span className="tagged-ok">✓ tagged pii</span>
            ) : (
              <button
                type="button"
                className="link-button small"
                data-testid={`scan-output-accept-${c.column}`}
                onClick={() => onTag([c.column])}
              >
                Tag as pii
              </button>
            )}
          </div>
          {c.kinds.map((k) => (
            <div key={k.kind} className="scan-kind small">
              <span className="scan-kind-name">{kindLabel(k.kind)}</span>
              <span className="scan-kind-share">{formatShare(k.share)}</span>
              {k.examples.length > 0 && (
                <span className="scan-examples" title={`Masked examples: ${k.examples.join(", ")}`}>
                  {k.examples.join(", ")}
                </span>
              )}
            </div>
          ))}
        </div>
      ))}
    </div>
  );
}
