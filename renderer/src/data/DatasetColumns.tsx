/**
 * A dataset's columns (from its latest version's schema) with their tags
 * from dagwood.json: a tag is added or removed where it shows, and the
 * change can be undone from the note beside the heading. "Scan for personal
 * data" runs the scan on the file and shows, per column, the kinds found,
 * their share and masked examples; "Tag as pii" accepts one column, "Accept
 * all" every column with a finding, as one undoable change. A long list
 * (more than FILTER_FROM columns) gets a filter by column name or tag.
 */
import { useEffect, useRef, useState } from "react";
import type { DatasetDetail } from "../../../app/values/datasets";
import type { ColumnScan, ScanReport } from "../../../app/values/privacy";
import { api } from "../api/client";
import { messageOf } from "../services/errors";
import { toast } from "../store/toasts";
import { TagChip } from "./TagChips";
import {
  type ColumnsPatch,
  columnsPatch,
  formatShare,
  kindLabel,
  SUGGESTED_TAGS,
  sampleLine,
  tagProblem,
  untaggedFindings,
  withoutTag,
  withTag,
} from "./tags";
import "./tags.css";

type Tags = Record<string, string[]>;

/** From this many columns on, the section offers a filter (the list scrolls in a 320px box). */
const FILTER_FROM = 12;

/** Whether a column shows under the filter: its name or one of its tags contains the text. */
const matches = (filter: string, name: string, tags: readonly string[]) => {
  const f = filter.trim().toLowerCase();
  return !f || name.toLowerCase().includes(f) || tags.some((t) => t.includes(f));
};

/** The core's message without the Api's "Invalid arguments for updateDataset: columns.email.tags.0:" prefix. */
const cleanMessage = (e: unknown) => messageOf(e).replace(/^Invalid arguments for \w+: ([\w.]+: )?/, "");

export function DatasetColumns({ detail: d, onChanged }: { detail: DatasetDetail; onChanged(): void }) {
  const [busy, setBusy] = useState(false);
  const [undo, setUndo] = useState<{ what: string; patch: ColumnsPatch } | null>(null);
  const [scan, setScan] = useState<ScanReport | null>(null);
  const [scanning, setScanning] = useState(false);
  const [scanError, setScanError] = useState<string | null>(null);
  const [filter, setFilter] = useState("");
  const tags: Tags = d.columnTags ?? {};
  const schema = d.latest?.schema ?? [];
  // Before any run has read it, the scan's columns stand in for the schema (their types unknown).
  const listed = schema.length ? schema : (scan?.columns ?? []).map((c) => ({ name: c.column, type: "" }));
  const known = new Set(listed.map((c) => c.name));
  // Columns tagged in dagwood.json that the file lacks still show, so their tags can go.
  const rows = [
    ...listed.map((c) => ({ name: c.name, type: c.type, missing: false })),
    ...Object.keys(tags)
      .filter((c) => !known.has(c))
      .map((name) => ({ name, type: "", missing: listed.length > 0 })),
  ];
  const typed = rows.some((r) => r.type);
  const filterable = rows.length > FILTER_FROM;
  const shown = filterable ? rows.filter((r) => matches(filter, r.name, tags[r.name] ?? [])) : rows;
  const disabled = d.configured
    ? null
    : "Name this dataset in dagwood.json first (above): tags are kept in its entry.";

  /** Saves `next` tags; throws the core's refusal (the caller shows it where it was typed). */
  const apply = async (next: Tags, what: string) => {
    const { patch, undo: back } = columnsPatch(tags, next);
    if (!Object.keys(patch).length) return;
    setBusy(true);
    try {
      await api.updateDataset({ name: d.name, columns: patch });
      setUndo({ what, patch: back });
      toast(what);
      onChanged();
    } finally {
      setBusy(false);
    }
  };
  const applyReporting = (next: Tags, what: string) =>
    apply(next, what).catch((e) => toast(`Could not save the tags: ${cleanMessage(e)}`, "error"));

  const runScan = async () => {
    setScanning(true);
    setScanError(null);
    try {
      // A glob names many files: the scan reads the one runs read last.
      const source = /[*?[]/.test(d.path) ? (d.latest?.source ?? d.path) : d.path;
      setScan(await api.scanPrivacy({ source }));
    } catch (e) {
      setScan(null);
      setScanError(messageOf(e));
    } finally {
      setScanning(false);
    }
  };

  const found = new Map<string, ColumnScan>((scan?.columns ?? []).map((c) => [c.column, c]));
  const toAccept = scan ? untaggedFindings(scan.columns, tags) : [];
  return (
    <section className="dataset-section" data-testid="dataset-columns">
      <div className="dataset-columns-head">
        <h3>Columns</h3>
        <button
          type="button"
          className="button small"
          data-testid="scan-button"
          disabled={scanning}
          title="Look for e-mail addresses, phone, card and IBAN numbers, IP addresses, dates of birth and personal names in a sample of the file"
          onClick={() => void runScan()}
        >
          {scanning ? "Scanning…" : scan ? "Scan again" : "Scan for personal data"}
        </button>
        {scan && toAccept.length > 0 && (
          <button
            type="button"
            className="button small primary"
            data-testid="scan-accept-all"
            disabled={busy || !!disabled}
            title={disabled ?? `Tag ${toAccept.join(", ")} as pii`}
            onClick={() =>
              void applyReporting(
                withTag(tags, toAccept, "pii"),
                `${toAccept.length} column${toAccept.length === 1 ? "" : "s"} tagged pii`,
              )
            }
          >
            Accept all ({toAccept.length})
          </button>
        )}
        {scan && (
          <span className="scan-line" data-testid="scan-sample">
            {sampleLine(scan)} · {scan.columns.filter((c) => c.kinds.length).length} with personal data
          </span>
        )}
        {undo && (
          <span className="undo-note" data-testid="undo-tags">
            {undo.what} ·{" "}
            <button
              type="button"
              className="link-button"
              disabled={busy}
              onClick={() => {
                const { patch } = undo;
                setUndo(null);
                setBusy(true);
                api
                  .updateDataset({ name: d.name, columns: patch })
                  .then(
                    () => {
                      toast("Tags restored");
                      onChanged();
                    },
                    (e) => toast(`Could not undo: ${cleanMessage(e)}`, "error"),
                  )
                  .finally(() => setBusy(false));
              }}
            >
              Undo
            </button>
          </span>
        )}
      </div>
      {scanError && (
        <div className="scan-error" role="alert" data-testid="scan-error">
          {scanError}
        </div>
      )}
      {filterable && (
        <div className="columns-filter-row">
          <input
            className="field-input columns-filter"
            data-testid="columns-filter"
            type="search"
            aria-label="Filter columns by name or tag"
            placeholder="Filter by name or tag"
            value={filter}
            onChange={(e) => setFilter(e.target.value)}
          />
          <span className="muted small" data-testid="columns-count">
            {shown.length === rows.length
              ? `${rows.length} columns`
              : `${shown.length} of ${rows.length} columns`}
          </span>
        </div>
      )}
      {filterable && !shown.length && (
        <p className="muted small" data-testid="columns-none">
          No column matches “{filter.trim()}”.
        </p>
      )}
      {!rows.length ? (
        <p className="muted small" data-testid="columns-empty">
          No run has read this dataset yet: run a pipeline that reads it to list its columns. The scan reads
          the file itself.
        </p>
      ) : (
        <div className="columns-scroll">
          <table className="columns-table" data-testid="columns-table">
            <colgroup>
              <col className="c-name" />
              {typed && <col className="c-type" />}
              <col className="c-tags" />
              <col />
              {scan && <col className="c-action" />}
            </colgroup>
            <thead>
              <tr>
                <th>column</th>
                {typed && <th>type</th>}
                <th>tags</th>
                <th>{scan ? "personal data found" : ""}</th>
                {scan && <th />}
              </tr>
            </thead>
            <tbody>
              {shown.map((r) => (
                <ColumnRow
                  key={r.name}
                  name={r.name}
                  type={typed ? r.type : null}
                  missing={r.missing}
                  tags={tags[r.name] ?? []}
                  scan={scan ? (found.get(r.name) ?? { column: r.name, kinds: [] }) : null}
                  busy={busy}
                  disabled={disabled}
                  onAdd={(tag) => apply({ ...withTag(tags, [r.name], tag) }, `${tag} added to ${r.name}`)}
                  onRemove={(tag) =>
                    void applyReporting(withoutTag(tags, r.name, tag), `${tag} removed from ${r.name}`)
                  }
                  onAccept={() => void applyReporting(withTag(tags, [r.name], "pii"), `${r.name} tagged pii`)}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function ColumnRow({
  name,
  type,
  missing,
  tags,
  scan,
  busy,
  disabled,
  onAdd,
  onRemove,
  onAccept,
}: {
  name: string;
  /** null: no type is known (the columns come from the scan, before any run). */
  type: string | null;
  missing: boolean;
  tags: string[];
  scan: ColumnScan | null;
  busy: boolean;
  disabled: string | null;
  onAdd(tag: string): Promise<void>;
  onRemove(tag: string): void;
  onAccept(): void;
}) {
  return (
    <tr data-testid={`column-${name}`}>
      <td className="mono ellipsis" title={name}>
        {name}
        {missing && (
          <div
            className="column-missing"
            title="dagwood.json tags a column the file does not have: remove the tag, or check the column's name"
          >
            not in the file
          </div>
        )}
      </td>
      {type !== null && (
        <td className="mono muted ellipsis" title={type}>
          {type}
        </td>
      )}
      <td>
        <span className="coltags" data-testid={`column-tags-${name}`}>
          {tags.map((t) => (
            <TagChip
              key={t}
              tag={t}
              title={`${t}: set on ${name} in dagwood.json`}
              removeLabel={`Remove ${t} from ${name}`}
              disabled={busy || !!disabled}
              onRemove={() => onRemove(t)}
            />
          ))}
          <AddTag column={name} existing={tags} disabled={disabled} busy={busy} onAdd={onAdd} />
        </span>
      </td>
      <td>
        {scan && (
          <div className="scan-kinds" data-testid={`scan-${name}`}>
            {scan.kinds.length === 0 && <span className="muted small">nothing found</span>}
            {scan.kinds.map((k) => (
              <div key={k.kind} className="scan-kind" data-testid={`scan-kind-${k.kind}`}>
                <span className="scan-kind-name">{kindLabel(k.kind)}</span>
                <span
                  className="scan-kind-share"
                  title={`${(k.share * 100).toFixed(2)}% of the sampled non-null values`}
                >
                  {k.by === "name" && !k.examples.length ? "by its name" : formatShare(k.share)}
                </span>
                {k.examples.length > 0 && (
                  <span className="scan-examples" title={`Masked examples: ${k.examples.join(", ")}`}>
                    {k.examples.join(", ")}
                  </span>
                )}
              </div>
            ))}
          </div>
        )}
      </td>
      {scan && (
        <td>
          {scan.kinds.length > 0 &&
            (tags.includes("pii") ? (
              <span className="tagged-ok">✓ tagged pii</span>
            ) : (
              <button
                type="button"
                className="button small"
                data-testid={`scan-accept-${name}`}
                disabled={busy || !!disabled}
                title={disabled ?? `Tag ${name} as pii in dagwood.json`}
                onClick={onAccept}
              >
                Tag as pii
              </button>
            ))}
        </td>
      )}
    </tr>
  );
}

function AddTag({
  column,
  existing,
  disabled,
  busy,
  onAdd,
}: {
  column: string;
  existing: string[];
  disabled: string | null;
  busy: boolean;
  onAdd(tag: string): Promise<void>;
}) {
  const [draft, setDraft] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const input = useRef<HTMLInputElement>(null);
  const editing = draft !== null;
  useEffect(() => {
    if (editing) input.current?.focus();
  }, [editing]);
  const close = () => {
    setDraft(null);
    setError(null);
  };
  const submit = async () => {
    const tag = (draft ?? "").trim().toLowerCase();
    const problem = tagProblem(tag, existing);
    if (problem) return setError(problem);
    try {
      await onAdd(tag);
      close();
    } catch (e) {
      setError(cleanMessage(e));
    }
  };
  if (!editing)
    return (
      <button
        type="button"
        className="tag-add-button"
        data-testid={`tag-add-${column}`}
        aria-label={`Add a tag to ${column}`}
        title={disabled ?? `Tag ${column}: pii, sensitive or your own`}
        disabled={!!disabled || busy}
        onClick={() => setDraft("")}
      >
        + tag
      </button>
    );
  const listId = `tag-suggestions-${column}`;
  return (
    <span className="tag-add">
      <input
        ref={input}
        className={`field-input${error ? " invalid" : ""}`}
        data-testid={`tag-input-${column}`}
        aria-label={`Tag for ${column}`}
        aria-invalid={!!error}
        placeholder="pii"
        list={listId}
        value={draft}
        readOnly={busy}
        onChange={(e) => {
          setDraft(e.target.value);
          setError(null);
        }}
        onKeyDown={(e) => {
          if (e.key === "Enter") void submit();
          else if (e.key === "Escape") close();
          else return;
          e.preventDefault();
        }}
        onBlur={() => {
          if (!draft?.trim()) close();
        }}
      />
      <datalist id={listId}>
        {SUGGESTED_TAGS.filter((t) => !existing.includes(t)).map((t) => (
          <option key={t} value={t} />
        ))}
      </datalist>
      <button
        type="button"
        className="button small"
        disabled={busy}
        onMouseDown={(e) => e.preventDefault()}
        onClick={() => void submit()}
      >
        Add
      </button>
      {error && (
        <span className="tag-add-error" role="alert" data-testid={`tag-error-${column}`}>
          {error}
        </span>
      )}
    </span>
  );
}
