/** @jsxImportSource hono/jsx */

/**
 * A destructive button with a second step instead of window.confirm: the first press shows
 * "Confirm …" and "Keep" (focus moves to the confirmation), Escape or Keep goes back. The
 * request itself is the API's (src/dashboard/client/writes.ts sends it), so a read key
 * is refused there as well; pages render this for write sessions only.
 */
export function ConfirmAction({
  label,
  confirmLabel,
  name,
  method,
  url,
  done,
}: {
  /** The visible word of the first button: "Delete", "Cancel schedule". */
  label: string;
  confirmLabel: string;
  /** What the buttons act on, for their accessible names: "trigger Conversation started: send a message". */
  name: string;
  method: "DELETE";
  url: string;
  /** What the section's status line says once it is done. */
  done: string;
}) {
  return (
    <div class="confirm" data-confirm data-method={method} data-url={url} data-done={done}>
      <button type="button" data-confirm-ask aria-label={`${label}: ${name}`}>
        {label}
      </button>
      <span class="confirm-step" data-confirm-step hidden>
        <button type="button" class="danger" data-confirm-yes aria-label={`${confirmLabel}: ${name}`}>
          {confirmLabel}
        </button>
        <button type="button" data-confirm-no aria-label={`Keep ${name}`}>
          Keep
        </button>
      </span>
    </div>
  );
}
