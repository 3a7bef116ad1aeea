/** Chooses the param and metric columns of the runs table, from every key the runs carry. */
import { useState } from "react";
import { useShallow } from "zustand/react/shallow";
import { defaultMetricColumns, sortedKeys } from "./format";
import { DEFAULT_METRIC_COLUMNS, useExperiments } from "./store";

export function ColumnChooser() {
  const [open, setOpen] = useState(false);
  const [search, setSearch] = useState("");
  const s = useExperiments(
    useShallow((s) => ({
      params: s.paramColumns,
      metrics: s.metricColumns,
      seenParams: s.seenParams,
      seenMetrics: s.seenMetrics,
    })),
  );
  const allMetrics = sortedKeys(s.seenMetrics);
  const metrics = s.metrics ?? defaultMetricColumns(allMetrics, DEFAULT_METRIC_COLUMNS);
  const match = (k: string) => k.toLowerCase().includes(search.trim().toLowerCase());
  const toggle = (kind: "param" | "metric", key: string) => {
    const ex = useExperiments.getState();
    if (kind === "param")
      ex.setColumns(s.params.includes(key) ? s.params.filter((k) => k !== key) : [...s.params, key], metrics);
    else
      ex.setColumns(s.params, metrics.includes(key) ? metrics.filter((k) => k !== key) : [...metrics, key]);
  };
  const group = (kind: "param" | "metric", keys: string[], chosen: string[]) => (
    <fieldset className="columns-group">
      <legend>
        {kind === "param" ? "Params" : "Metrics"} <span className="muted">({keys.length})</span>
      </legend>
      {keys.filter(match).map((k) => (
        <label key={k} className="columns-item mono">
          <input
            type="checkbox"
            data-testid={`column-toggle-${k}`}
            checked={chosen.includes(k)}
            onChange={() => toggle(kind, k)}
          />
          {k}
        </label>
      ))}
      {!keys.length && <p className="muted small">None among these runs yet.</p>}
    </fieldset>
  );
  return (
    <div className="columns-chooser">
      <button
        type="button"
        className="button"
        data-testid="columns-button"
        aria-expanded={open}
        onClick={() => setOpen(!open)}
      >
        Columns ▾
      </button>
      {open && (
        <div className="columns-popover" data-testid="columns-popover">
          <div className="columns-head">
            <input
              className="field-input"
              placeholder="Search keys"
              value={search}
              onChange={(e) => setSearch(e.target.value)}
              // biome-ignore lint/a11y/noAutofocus: the popover opens to be searched
              autoFocus
            />
            <button type="button" className="icon-button" aria-label="Close" onClick={() => setOpen(false)}>
              ×
            </button>
          </div>
          <div className="columns-lists">
            {group("param", sortedKeys(s.seenParams), s.params)}
            {group("metric", allMetrics, metrics)}
          </div>
        </div>
      )}
    </div>
  );
}
