/** The path field of the Open and Save As / New dialogs: Enter submits, Escape closes. */
export function PathForm({
  path,
  onPath,
  onSubmit,
  onCancel,
  placeholder,
  submitLabel,
  inputTestId,
  submitTestId,
}: {
  path: string;
  onPath(path: string): void;
  onSubmit(): void;
  onCancel(): void;
  placeholder: string;
  submitLabel: string;
  inputTestId: string;
  submitTestId?: string;
}) {
  return (
    <form
      className="open-path"
      onSubmit={(e) => {
        e.preventDefault();
        onSubmit();
      }}
    >
      <input
        // biome-ignore lint/a11y/noAutofocus: the dialog exists to be typed into
        autoFocus
        className="field-input mono"
        data-testid={inputTestId}
        placeholder={placeholder}
        value={path}
        onChange={(e) => onPath(e.target.value)}
        onKeyDown={(e) => e.key === "Escape" && onCancel()}
      />
      <button type="submit" className="button primary" data-testid={submitTestId} disabled={!path.trim()}>
        {submitLabel}
      </button>
      <button type="button" className="button" onClick={onCancel}>
        Cancel
      </button>
    </form>
  );
}
