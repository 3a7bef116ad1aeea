/**
 * Column tags as chips (privacy, issue 19): a dataset's own tags (a name,
 * removable), and a node output's tags with where each came from (the
 * tooltip and, opened, a line per origin: "email_domain ← email (dataset
 * customers)"). Personal tags (pii, sensitive) are drawn in the warning hue.
 */
import type { ColumnTag } from "../../../app/values/privacy";
import { groupByTag, isPersonal, originChain, originSteps, tagTitle } from "./tags";
import "./tags.css";

export function TagChip({
  tag,
  title,
  onRemove,
  removeLabel,
  disabled,
}: {
  tag: string;
  title?: string;
  onRemove?: () => void;
  removeLabel?: string;
  disabled?: boolean;
}) {
  return (
    <span
      className={`coltag${isPersonal(tag) ? " personal" : ""}`}
      data-testid={`tag-chip-${tag}`}
      title={title ?? tag}
    >
      {tag}
      {onRemove && (
        <button
          type="button"
          className="coltag-remove"
          aria-label={removeLabel ?? `Remove ${tag}`}
          title={removeLabel ?? `Remove ${tag}`}
          disabled={disabled}
          onClick={onRemove}
        >
          ×
        </button>
      )}
    </span>
  );
}

/** One chip per tag name on an output column; the chain of each origin in its tooltip. */
export function OriginTagChips({ column, tags }: { column: string; tags: readonly ColumnTag[] }) {
  return (
    <span className="coltags">
      {groupByTag(tags).map((g) => (
        <TagChip key={g.tag} tag={g.tag} title={g.origins.map((t) => tagTitle(column, t)).join("\n\n")} />
      ))}
    </span>
  );
}

/** Where each tag of a column came from, a line per origin: "pii  email_domain ← email (dataset customers)". */
export function TagOrigins({ column, tags }: { column: string; tags: readonly ColumnTag[] }) {
  return (
    <ul className="tag-origins" data-testid={`tag-origins-${column}`}>
      {groupByTag(tags).flatMap((g) =>
        g.origins.map((t) => (
          <li key={`${g.tag}:${originSteps(t).join("/")}`} title={originSteps(t).join("\n→ ")}>
            <span className={`tag-origin-name${isPersonal(g.tag) ? " personal" : ""}`}>{g.tag}</span>{" "}
            <span className="mono">{originChain(column, t)}</span>
            {t.via.length > 0 && <span className="muted"> via {t.via.map((v) => v.node).join(" → ")}</span>}
          </li>
        )),
      )}
    </ul>
  );
}
