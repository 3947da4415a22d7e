// The participant page's schedules: add one (POST), move one (PATCH its due_at) and cancel
// one (the confirm step of writes.ts, DELETE). Times are typed as wall-clock times in the
// participant's timezone and sent as RFC 3339 with that zone's offset (zoned-time.ts).
import { register } from "./enhance";
import { clearErrors, onSubmit, refreshParts, send, setStatus, showLocalError, showProblem, statusOf } from "./writes";
import { zonedToRfc3339 } from "./zoned-time";

/** A number field's value: undefined where empty, NaN where it is not a whole number. */
function wholeNumber(input: HTMLInputElement): number | undefined {
  const text = input.value.trim();
  if (text === "") return input.validity.badInput ? Number.NaN : undefined;
  return /^-?\d+$/.test(text) ? Number(text) : Number.NaN;
}

/** The field's time as RFC 3339, or null after showing why it cannot be (nothing is sent then). */
function timeOf(form: HTMLFormElement, input: HTMLInputElement, timezone: string): string | null {
  if (input.value === "" && input.validity.badInput) {
    showLocalError(form, input, "Give a complete date and time.");
    return null;
  }
  const result = zonedToRfc3339(input.value, timezone);
  if (!result.ok) {
    showLocalError(form, input, result.detail);
    return null;
  }
  return result.rfc3339;
}

const participantIdOf = (element: Element) => element.closest<HTMLElement>("[data-participant-id]")?.dataset.participantId ?? "";

register({
  selector: "form[data-schedule-create]",
  run: (element) => {
    const form = element as HTMLFormElement;
    const timezone = form.dataset.timezone ?? "UTC";
    const field = <T extends HTMLElement>(name: string) => form.querySelector<T>(`[name=${name}]`)!;
    onSubmit(form, async () => {
      const name = field<HTMLInputElement>("name");
      const message = field<HTMLTextAreaElement>("message");
      const due = field<HTMLInputElement>("due_at");
      const count = field<HTMLInputElement>("every_count");
      const unit = field<HTMLSelectElement>("every_unit");
      const repetitions = field<HTMLInputElement>("repetitions");
      const end = field<HTMLInputElement>("end_at");
      const body: Record<string, unknown> = { name: name.value, message: message.value };
      // An empty due time is the API's to refuse, next to the field, like any other error.
      if (due.value !== "" || due.validity.badInput) {
        const at = timeOf(form, due, timezone);
        if (at === null) return;
        body.due_at = at;
      }
      const every = wholeNumber(count);
      if (Number.isNaN(every)) return showLocalError(form, count, "Give a whole number, or leave it empty for a one-off.");
      if (every !== undefined) body.every = { count: every, unit: unit.value };
      const times = wholeNumber(repetitions);
      if (Number.isNaN(times)) return showLocalError(form, repetitions, "Give a whole number, or leave it empty.");
      if (times !== undefined) body.repetitions = times;
      if (end.value !== "" || end.validity.badInput) {
        const at = timeOf(form, end, timezone);
        if (at === null) return;
        body.end_at = at;
      }
      const answer = await send("POST", `/v1/participants/${encodeURIComponent(participantIdOf(form))}/schedules`, body);
      if (answer.status !== 201) return showProblem(form, answer);
      clearErrors(form);
      for (const input of [name, message, due, count, repetitions, end]) input.value = "";
      const section = form.closest("section");
      const refreshed = section ? await refreshParts(section) : false;
      setStatus(statusOf(form), refreshed ? "Schedule added: it is listed above." : "Schedule added. Reload the page to see it.", "ok");
    });
  },
});

/** "Move": a disclosure button that shows the row's move form; delegated, as refreshes redraw the rows. */
function toggleMove(button: HTMLButtonElement): void {
  const form = document.getElementById(button.getAttribute("aria-controls") ?? "");
  if (!form) return;
  const open = button.getAttribute("aria-expanded") !== "true";
  button.setAttribute("aria-expanded", String(open));
  form.hidden = !open;
  if (open) form.querySelector<HTMLInputElement>("input[name=due_at]")?.focus();
}

async function move(form: HTMLFormElement): Promise<void> {
  const list = form.closest<HTMLElement>("[data-timezone]");
  const section = form.closest("section");
  const id = form.dataset.scheduleId ?? "";
  const input = form.querySelector<HTMLInputElement>("input[name=due_at]")!;
  const at = timeOf(form, input, list?.dataset.timezone ?? "UTC");
  if (at === null) return;
  const answer = await send("PATCH", form.dataset.url ?? "", { due_at: at });
  if (answer.status !== 200) return showProblem(form, answer);
  const status = section?.querySelector<HTMLElement>("[data-section-status]") ?? null;
  const refreshed = section ? await refreshParts(section) : false;
  setStatus(status, refreshed ? "The schedule was moved." : "The schedule was moved. Reload the page to see its new time.", "ok");
  // The row was redrawn with its new time: focus its name, where the person was.
  const row = document.getElementById(`schedule-${id}`);
  (row ?? status)?.focus();
}

register({
  selector: "section:has(form[data-schedule-create]), section:has(form[data-schedule-move])",
  run: (section) => {
    section.addEventListener("click", (event) => {
      const button = (event.target as Element | null)?.closest<HTMLButtonElement>("button[data-disclose]");
      if (button) toggleMove(button);
    });
    const busy = new WeakSet<HTMLFormElement>();
    section.addEventListener("submit", (event) => {
      const form = (event.target as Element | null)?.closest<HTMLFormElement>("form[data-schedule-move]");
      if (!form) return;
      event.preventDefault();
      if (busy.has(form)) return;
      busy.add(form);
      const button = form.querySelector<HTMLButtonElement>("button[type=submit]");
      if (button) button.disabled = true;
      setStatus(statusOf(form), "Moving…");
      move(form).finally(() => {
        busy.delete(form);
        if (button) button.disabled = false;
      });
    });
  },
});
