/** A registered model: its versions (metrics, parity, lineage, aliases), alias, deploy and archive actions, export, history. */
import { useState } from "react";
import type { AuditEntry, ModelDetail } from "../../../app/api/api";
import { describeUse, type PersonalDataUse } from "../../../app/values/privacy";
import { type ModelVersion, PRODUCTION_ALIAS } from "../../../app/values/registry";
import { api } from "../api/client";
import { OriginTagChips } from "../data/TagChips";
import { originChain } from "../data/tags";
import { DeployDialog } from "../deployments/DeployDialog";
import { formatMetric, formatShortTime, formatTime, formatValue, shortId } from "../experiments/format";
import { showRun } from "../experiments/showRun";
import { showFeatureService } from "../features/store";
import { parityText } from "../panels/evaluation/format";
import { useUnmaskedExport } from "../privacy/UnmaskedExport";
import { reportError } from "../services/errors";
import { ConfirmDialog } from "../shell/ConfirmDialog";
import { MiniTable } from "../shell/MiniTable";
import { toast } from "../store/toasts";
import { AliasDialog } from "./AliasDialog";
import { describeAudit } from "./audit";
import { ModelGovernance } from "./ModelGovernance";
import { ProductionHistory } from "./ProductionHistory";
import "./models.css";

/** The metrics a versions table shows first; the rest are in the version's detail. */
const KEY_METRICS = ["accuracy", "f1_macro", "f1", "roc_auc", "rmse", "r2", "mae"];

function keyMetrics(versions: ModelVersion[]): string[] {
  const all = new Set(versions.flatMap((v) => Object.keys(v.metrics)));
  const picked = KEY_METRICS.filter((k) => all.has(k));
  return (picked.length ? picked : [...all].sort()).slice(0, 4);
}

type Pending =
  | { kind: "alias"; version: number }
  | { kind: "remove"; alias: string; version: number }
  | { kind: "archive"; version: number }
  | { kind: "deploy"; version: number };

function Lineage({ version }: { version: ModelVersion }) {
  const l = version.lineage;
  return (
    <div className="version-lineage" data-testid={`version-lineage-${version.version}`}>
      <div className="lineage-facts">
        <div>
          <span className="muted">run </span>
          <button
            type="button"
            className="link-button mono"
            data-testid="lineage-run-link"
            onClick={() => showRun(version.runId)}
          >
            {shortId(version.runId)}
          </button>
          <span className="muted"> · node </span>
          <span className="mono">{version.nodeId}</span>
          <span className="muted"> · {formatTime(l.run.startedAt)}</span>
          {l.run.user && <span className="muted"> · by {l.run.user}</span>}
        </div>
        <div>
          <span className="muted">pipeline </span>
          <span className="mono">{l.run.pipeline}</span>
          {l.run.pipelinePath && <span className="mono muted"> ({l.run.pipelinePath})</span>}
          <span className="muted"> · hash </span>
          <span className="mono" title={l.run.pipelineHash ?? ""}>
            {l.run.pipelineHash?.slice(0, 12) ?? "—"}
          </span>
        </div>
        <div>
          <span className="muted">files </span>
          <span className="mono">{version.onnxPath}</span>
        </div>
        {version.featureService && (
          <div data-testid="lineage-feature-service">
            <span className="muted">feature service </span>
            <button
              type="button"
              className="link-button mono"
              title="Open the service in the Features view"
              onClick={() => showFeatureService(version.featureService!)}
            >
              {version.featureService}
            </button>
            <span className="muted"> · callable by entity (V2 parameters.entities)</span>
          </div>
        )}
      </div>
      <PersonalData uses={l.personalData ?? []} />
      <h5>Datasets</h5>
      <MiniTable
        rows={l.datasets}
        testId="lineage-datasets"
        head={["source", "rows", "digest (sha256)"]}
        empty="No dataset was recorded upstream of this model."
        row={(d) => (
          <tr key={d.digest}>
            <td className="mono">{d.source}</td>
            <td>{d.rows.toLocaleString()}</td>
            <td className="mono" data-testid="dataset-digest" title={d.digest}>
              {d.digest.slice(0, 16)}…
            </td>
          </tr>
        )}
      />
      <details>
        <summary className="small">
          {Object.keys(l.params).length} params · all {Object.keys(version.metrics).length} metrics
        </summary>
        <dl className="kv">
          {Object.entries(l.params).map(([k, v]) => (
            <div key={k}>
              <dt className="mono">{k}</dt>
              <dd className="mono">{formatValue(v)}</dd>
            </div>
          ))}
          {Object.entries(version.metrics).map(([k, v]) => (
            <div key={`m:${k}`}>
              <dt className="mono">{k}</dt>
              <dd className="mono">{formatMetric(v)}</dd>
            </div>
          ))}
        </dl>
      </details>
    </div>
  );
}

/** The version's inputs that carry a tag, and where each came from: "Uses personal data: email_domain ← email". */
function PersonalData({ uses }: { uses: PersonalDataUse[] }) {
  if (!uses.length) return null;
  return (
    <div className="personal-data-uses" data-testid="personal-data" role="note">
      <strong>Uses personal data:</strong> {uses.map(describeUse).join("; ")}
      <ul>
        {uses.map((u) => (
          <li key={u.input} data-testid={`personal-data-${u.input}`}>
            <span className="mono">{u.input}</span> <OriginTagChips column={u.input} tags={u.tags} />{" "}
            <span className="muted small">
              {[...new Set(u.tags.map((t) => originChain(u.input, t)))].join("; ")}
            </span>
          </li>
        ))}
      </ul>
    </div>
  );
}

function AuditTimeline({ entries }: { entries: AuditEntry[] }) {
  if (!entries.length) return <p className="muted small">No change recorded yet.</p>;
  return (
    <ol className="audit-timeline" data-testid="audit-timeline">
      {entries.map((e) => (
        <li key={e.id} className={`audit-entry audit-${e.action.split(".")[0]}`} data-testid="audit-entry">
          <span className="audit-dot" />
          <div>
            <div className="audit-what">{describeAudit(e)}</div>
            <div className="muted small">
              {e.actor ?? "unknown"} · {formatTime(e.at)}
            </div>
          </div>
        </li>
      ))}
    </ol>
  );
}

export function ModelDetailView({ detail, onChanged }: { detail: ModelDetail; onChanged(): void }) {
  const { model, versions, audit } = detail;
  const [pending, setPending] = useState<Pending | null>(null);
  const [busy, setBusy] = useState(false);
  /** The reason typed in the remove or archive dialog: taking `production` away needs one (audited). */
  const [reason, setReason] = useState("");
  const [open, setOpen] = useState<number | null>(versions[0]?.version ?? null);
  const [exported, setExported] = useState<{ version: number; dir: string; files: string[] } | null>(null);
  const metrics = keyMetrics(versions);

  const run = async (what: () => Promise<unknown>, done: string, failed: string) => {
    setBusy(true);
    try {
      await what();
      toast(done);
      setPending(null);
      onChanged();
    } catch (e) {
      reportError(e, failed);
    } finally {
      setBusy(false);
    }
  };
  // A version whose model holds personal values the core cannot mask: asked, then exported in clear.
  const unmaskedExport = useUnmaskedExport();
  const exportVersion = (version: number) =>
    unmaskedExport.attempt(
      async (unmask) => {
        const out = await api.exportModelVersion({ name: model.name, ref: version, ...unmask });
        setExported({ version, ...out });
        toast(
          `v${version} exported to ${out.dir}${out.unmasked ? ` (${out.unmasked.join(", ")} in clear)` : ""}`,
        );
      },
      (e) => reportError(e, `Could not export v${version}`),
    );

  return (
    <div className="model-detail" data-testid="model-detail">
      <header className="model-head">
        <h2>{model.name}</h2>
        <p className="muted">
          {model.description || "No description."} {model.owner && <>· owner {model.owner}</>} ·{" "}
          {model.versions} version{model.versions === 1 ? "" : "s"} · updated {formatTime(model.updatedAt)}
        </p>
        <ModelGovernance model={model} onChanged={onChanged} />
        <div className="alias-row">
          {Object.entries(model.aliases).map(([a, v]) => (
            <span key={a} className="alias-chip big">
              {a} → v{v}
            </span>
          ))}
        </div>
      </header>
      {unmaskedExport.dialog}
      {exported && (
        <div className="export-note" data-testid="export-result">
          v{exported.version} was written to <span className="mono">{exported.dir}</span>:{" "}
          <span className="mono small">{exported.files.join(", ")}</span>
          <button
            type="button"
            className="icon-button"
            aria-label="Dismiss"
            onClick={() => setExported(null)}
          >
            ×
          </button>
        </div>
      )}
      <div className="model-body">
        <section className="model-versions">
          <h3>Versions</h3>
          <div className="versions-scroll">
            <table className="runs-table versions-table" data-testid="versions-table">
              <thead>
                <tr>
                  <th>version</th>
                  <th>status</th>
                  <th>created</th>
                  {metrics.map((m) => (
                    <th key={m} className="num">
                      {m}
                    </th>
                  ))}
                  <th>parity</th>
                  <th>aliases</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {versions.map((v) => (
                  <VersionRow
                    key={v.version}
                    version={v}
                    audit={audit}
                    metrics={metrics}
                    open={open === v.version}
                    onToggle={() => setOpen(open === v.version ? null : v.version)}
                    onPending={(p) => {
                      setReason("");
                      setPending(p);
                    }}
                    onExport={() => void exportVersion(v.version)}
                  />
                ))}
              </tbody>
            </table>
          </div>
        </section>
        <section className="model-audit">
          <h3>History</h3>
          <AuditTimeline entries={audit} />
        </section>
      </div>
      {pending?.kind === "alias" && (
        <AliasDialog
          model={model}
          version={pending.version}
          onCancel={() => setPending(null)}
          onDone={() => {
            setPending(null);
            onChanged();
          }}
        />
      )}
      {pending?.kind === "deploy" && (
        <DeployDialog
          model={model.name}
          version={pending.version}
          onClose={() => setPending(null)}
          onDeployed={onChanged}
        />
      )}
      {pending?.kind === "remove" && (
        <ConfirmDialog
          title="Remove alias"
          question={`Remove ${pending.alias} from v${pending.version}?${
            pending.alias === PRODUCTION_ALIAS
              ? " Taking production away needs a reason (the history keeps it)."
              : ""
          }`}
          confirmLabel="Remove"
          danger
          busy={busy}
          disabled={pending.alias === PRODUCTION_ALIAS && !reason.trim()}
          onCancel={() => setPending(null)}
          onConfirm={() =>
            void run(
              () =>
                api.removeAlias({
                  name: model.name,
                  alias: pending.alias,
                  ...(pending.alias === PRODUCTION_ALIAS ? { reason: reason.trim() } : {}),
                }),
              `${pending.alias} removed`,
              `Could not remove ${pending.alias}`,
            )
          }
        >
          {pending.alias === PRODUCTION_ALIAS && <ProductionReason reason={reason} onChange={setReason} />}
        </ConfirmDialog>
      )}
      {pending?.kind === "archive" && (
        <ConfirmDialog
          title="Archive version"
          question={`Archive ${model.name} v${pending.version}?${
            Object.entries(model.aliases).some(([, n]) => n === pending.version)
              ? " Its aliases are removed."
              : ""
          } An archived version keeps its files and history but takes no alias.${
            model.aliases[PRODUCTION_ALIAS] === pending.version
              ? " It holds production: archiving it needs a reason (the history keeps it)."
              : ""
          }`}
          confirmLabel="Archive"
          danger
          busy={busy}
          disabled={model.aliases[PRODUCTION_ALIAS] === pending.version && !reason.trim()}
          onCancel={() => setPending(null)}
          onConfirm={() =>
            void run(
              () =>
                api.archiveVersion({
                  name: model.name,
                  version: pending.version,
                  ...(model.aliases[PRODUCTION_ALIAS] === pending.version ? { reason: reason.trim() } : {}),
                }),
              `v${pending.version} archived`,
              `Could not archive v${pending.version}`,
            )
          }
        >
          {model.aliases[PRODUCTION_ALIAS] === pending.version && (
            <ProductionReason reason={reason} onChange={setReason} />
          )}
        </ConfirmDialog>
      )}
    </div>
  );
}

/** The reason field of a dialog that takes `production` away (removing it, archiving its version). */
function ProductionReason({ reason, onChange }: { reason: string; onChange(reason: string): void }) {
  return (
    <label className="field">
      <span className="field-label">Reason (kept in the audit history)</span>
      <textarea
        className="field-input"
        data-testid="production-reason-input"
        rows={2}
        maxLength={2000}
        value={reason}
        placeholder="e.g. v3 serves wrong prices, incident 42"
        onChange={(e) => onChange(e.target.value)}
      />
    </label>
  );
}

function VersionRow({
  version: v,
  audit,
  metrics,
  open,
  onToggle,
  onPending,
  onExport,
}: {
  version: ModelVersion;
  audit: AuditEntry[];
  metrics: string[];
  open: boolean;
  onToggle(): void;
  onPending(p: Pending): void;
  onExport(): void;
}) {
  const archived = v.status === "archived";
  return (
    <>
      <tr
        data-testid={`version-${v.version}`}
        className={`${open ? "open" : ""}${archived ? " archived" : ""}`}
        onClick={onToggle}
      >
        <td>
          <span className="mono">
            {open ? "▾" : "▸"} v{v.version}
          </span>
        </td>
        <td>
          <span className={`run-status status-${v.status}`}>{v.status}</span>
          {(v.lineage.personalData?.length ?? 0) > 0 && (
            <span
              className="node-personal version-personal"
              data-testid={`version-personal-${v.version}`}
              title={`Uses personal data: ${v.lineage.personalData!.map(describeUse).join("; ")}`}
            >
              personal data
            </span>
          )}
        </td>
        <td className="small" title={`${formatTime(v.createdAt)}${v.createdBy ? ` by ${v.createdBy}` : ""}`}>
          {formatShortTime(v.createdAt)}
        </td>
        {metrics.map((m) => (
          <td key={m} className="num mono">
            {formatMetric(v.metrics[m])}
          </td>
        ))}
        <td className="small" title={v.parity ? parityText(v.parity) : "No parity check recorded"}>
          {v.parity ? (v.parity.labelAgreement === 1 ? "✓ labels 100 %" : parityText(v.parity)) : "—"}
        </td>
        <td>
          {v.aliases.map((a) => (
            <span key={a} className="alias-chip" data-testid={`alias-${a}`}>
              {a}
              <button
                type="button"
                aria-label={`Remove alias ${a}`}
                data-testid={`alias-remove-${a}`}
                onClick={(e) => {
                  e.stopPropagation();
                  onPending({ kind: "remove", alias: a, version: v.version });
                }}
              >
                ×
              </button>
            </span>
          ))}
        </td>
        <td>
          <div className="row-actions">
            <button
              type="button"
              className="button small"
              data-testid={`set-alias-${v.version}`}
              disabled={archived}
              title={
                archived ? "An archived version takes no alias" : "Set or move an alias onto this version"
              }
              onClick={(e) => {
                e.stopPropagation();
                onPending({ kind: "alias", version: v.version });
              }}
            >
              Alias…
            </button>
            <button
              type="button"
              className="button small primary"
              data-testid={`deploy-button-${v.version}`}
              disabled={archived}
              title={archived ? "Deploy a ready version" : "Push this version to a deploy target, verified"}
              onClick={(e) => {
                e.stopPropagation();
                onPending({ kind: "deploy", version: v.version });
              }}
            >
              Deploy…
            </button>
            <button
              type="button"
              className="button small"
              data-testid={`export-${v.version}`}
              onClick={(e) => {
                e.stopPropagation();
                onExport();
              }}
            >
              Export
            </button>
            <button
              type="button"
              className="button small danger"
              data-testid={`archive-${v.version}`}
              disabled={archived}
              onClick={(e) => {
                e.stopPropagation();
                onPending({ kind: "archive", version: v.version });
              }}
            >
              Archive
            </button>
          </div>
        </td>
      </tr>
      {open && (
        <tr className="version-detail-row">
          <td colSpan={metrics.length + 6} className="version-detail-cell">
            <Lineage version={v} />
            <ProductionHistory audit={audit} version={v.version} />
          </td>
        </tr>
      )}
    </>
  );
}
