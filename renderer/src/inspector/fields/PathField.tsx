import "./PathField.css";
import { useId, useState } from "react";
import { pickDataFile } from "../../api/client";
import { byFolder, formatBytes, useDataFiles } from "../../services/dataFiles";
import { formatDefault } from "../jsonSchema";
import type { FieldProps } from "./types";

/**
 * A file of the project, as a path relative to it: typed, or picked from the
 * data files found in the project and its data folders (a combobox: the browser
 * offers them while typing, the Files button lists them all).
 */
export function PathField({ path, schema, value, onChange, invalid }: FieldProps) {
  const listId = useId();
  const [open, setOpen] = useState(false);
  const [asked, setAsked] = useState(0);
  const list = useDataFiles(asked);
  const text = typeof value === "string" ? value : value === undefined ? "" : JSON.stringify(value);
  const files = list?.files ?? [];
  const toggle = () => {
    if (!open) setAsked((n) => n + 1);
    setOpen(!open);
  };
  const pick = (file: string) => {
    onChange(file);
    setOpen(false);
  };
  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: Escape closes the file list from anywhere in the field
    <div className="path-field" onKeyDown={(e) => e.key === "Escape" && open && setOpen(false)}>
      <div className="path-field-row">
        <input
          id={`param-${path}`}
          data-testid={`param-${path}`}
          className={`field-input mono${invalid ? " invalid" : ""}`}
          value={text}
          placeholder={formatDefault(schema.default) || "data/file.csv"}
          spellCheck={false}
          list={listId}
          aria-expanded={open}
          aria-controls={`${listId}-files`}
          onChange={(e) => onChange(e.target.value || undefined)}
        />
        <button
          type="button"
          className="button small"
          data-testid={`param-${path}-files`}
          aria-expanded={open}
          title="Choose one of the project's data files"
          onClick={toggle}
        >
          Files ▾
        </button>
        {pickDataFile && (
          <button
            type="button"
            className="button small"
            data-testid={`param-${path}-browse`}
            title="Choose a file with the system's file dialog"
            onClick={() => {
              void pickDataFile?.().then((picked) => picked && pick(picked.path));
            }}
          >
            Browse…
          </button>
        )}
      </div>
      <datalist id={listId}>
        {files.map((f) => (
          <option key={f.path} value={f.path}>
            {f.folder ? `${f.folder} · ${formatBytes(f.bytes)}` : formatBytes(f.bytes)}
          </option>
        ))}
      </datalist>
      {open && (
        <div className="path-file-list" id={`${listId}-files`} role="listbox" data-testid="path-file-list">
          {list === null ? (
            <p className="muted small">Looking for data files…</p>
          ) : files.length === 0 ? (
            <p className="muted small">
              No data files (csv, tsv, parquet, json, ndjson) in the project. Put one in the project folder,
              or add its folder to <span className="mono">dataFolders</span> in dagwood.json.
            </p>
          ) : (
            byFolder(files).map((group) => (
              <div key={group.folder}>
                <div className="path-file-group muted small" title={group.label}>
                  {group.label}
                </div>
                {group.files.map((f) => (
                  <button
                    type="button"
                    role="option"
                    aria-selected={f.path === text}
                    key={f.path}
                    className={`path-file${f.path === text ? " current" : ""}`}
                    data-testid={`path-file-${f.path}`}
                    title={f.path}
                    onClick={() => pick(f.path)}
                  >
                    <span className="mono path-file-name">{f.name}</span>
                    <span className="muted small">{formatBytes(f.bytes)}</span>
                  </button>
                ))}
              </div>
            ))
          )}
          {list?.truncated && (
            <p className="muted small">
              Only the first {files.length} files are listed; type the path of any other.
            </p>
          )}
        </div>
      )}
    </div>
  );
}
