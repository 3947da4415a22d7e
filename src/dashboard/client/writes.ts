// What the automation sections (triggers, webhooks, schedules, a conversation's state)
// share: sending a write to the JSON API with the session cookie, showing its RFC 9457
// problem next to the fields its pointers name, re-reading the page to swap in the lists
// it changed, and the two-step confirmation of a destructive button.
import { register } from "./enhance";

export type FieldError = { pointer: string; message: string };
/** An API answer: its status and JSON body (an empty object where it had none); status 0 where the server was not reached. */
export type Answer = { status: number; body: Record<string, unknown> };

export async function send(method: string, url: string, body?: unknown): Promise<Answer> {
  try {
    const response = await fetch(url, {
      method,
      credentials: "same-origin",
      cache: "no-store",
      headers: body === undefined ? { Accept: "application/json" } : { Accept: "application/json", "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let parsed: unknown = null;
    try {
      parsed = await response.json();
    } catch {
      // No body (204), or not JSON: the status says enough.
    }
    const json = parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
    return { status: response.status, body: json };
  } catch {
    return { status: 0, body: { detail: "The service could not be reached. Check the connection and try again." } };
  }
}

/** A problem's sentence for a status line: its detail, or what the status means. */
export function problemText(answer: Answer): string {
  if (answer.status === 401) return "Your session has ended: reload the page to sign in again.";
  const detail = answer.body.detail;
  if (typeof detail === "string" && detail !== "") return detail;
  const title = answer.body.title;
  return typeof title === "string" ? title : `The request failed (${answer.status}).`;
}

export function errorsOf(answer: Answer): FieldError[] {
  const errors = answer.body.errors;
  if (!Array.isArray(errors)) return [];
  return errors
    .filter((error) => typeof error?.pointer === "string" && typeof error?.message === "string")
    .map((error) => ({ pointer: error.pointer as string, message: error.message as string }));
}

/** The status line of a form (role=status), next to its submit button. */
export function statusOf(form: Element): HTMLElement | null {
  return form.querySelector<HTMLElement>(":scope > .actions > .form-status, :scope > .form-status");
}

export function setStatus(target: HTMLElement | null, text: string, kind: "ok" | "error" | "" = ""): void {
  if (!target) return;
  target.textContent = text;
  target.classList.toggle("ok", kind === "ok");
  target.classList.toggle("error", kind === "error");
}

/** Fields that name an API pointer (`data-pointer`), longest pointer first so the most precise one takes an error. */
export function fieldsOf(form: HTMLElement): HTMLElement[] {
  return [...form.querySelectorAll<HTMLElement>("[data-pointer]")].sort(
    (a, b) => (b.dataset.pointer ?? "").length - (a.dataset.pointer ?? "").length,
  );
}

/** A field's error place: the id in its aria-describedby that ends in -error. */
export function errorBoxOf(field: HTMLElement): HTMLElement | null {
  const id = (field.getAttribute("aria-describedby") ?? "").split(/\s+/).find((part) => part.endsWith("-error"));
  return id ? document.getElementById(id) : null;
}

export function clearErrors(form: HTMLElement): void {
  for (const field of fieldsOf(form)) {
    field.removeAttribute("aria-invalid");
    const box = errorBoxOf(field);
    if (box) {
      box.textContent = "";
      box.hidden = true;
    }
  }
}

/** Focuses a field, or the first choice of a fieldset. */
function focusField(field: HTMLElement): void {
  const target = field.tagName === "FIELDSET" ? field.querySelector<HTMLElement>("input:checked, input") : field;
  target?.focus();
}

/**
 * Shows an API problem: each error next to the visible field its pointer falls under (the
 * first such field gets focus), the rest with the detail in the form's status line.
 */
export function showProblem(form: HTMLElement, answer: Answer): void {
  clearErrors(form);
  const fields = fieldsOf(form).filter((field) => !field.closest("[hidden]"));
  const unplaced: string[] = [];
  let first: HTMLElement | null = null;
  for (const error of errorsOf(answer)) {
    const field = fields.find((candidate) => {
      const base = candidate.dataset.pointer ?? "";
      return error.pointer === base || error.pointer.startsWith(`${base}/`);
    });
    const box = field ? errorBoxOf(field) : null;
    if (!field || !box) {
      unplaced.push(`${error.pointer || "(body)"}: ${error.message}`);
      continue;
    }
    const base = field.dataset.pointer ?? "";
    const where = error.pointer.length > base.length ? `At ${error.pointer.slice(base.length)}: ` : "";
    field.setAttribute("aria-invalid", "true");
    box.textContent = box.textContent ? `${box.textContent} ${where}${error.message}` : `${where}${error.message}`;
    box.hidden = false;
    first ??= field;
  }
  setStatus(
    statusOf(form),
    first && unplaced.length === 0 ? "Not saved: see the errors above." : `Not saved: ${[problemText(answer), ...unplaced].join(" ")}`,
    "error",
  );
  if (first) focusField(first);
}

/** An error found before sending (JSON that does not parse, a time that does not exist), shown as the API's would be. */
export function showLocalError(form: HTMLElement, field: HTMLElement, message: string): void {
  clearErrors(form);
  const box = errorBoxOf(field);
  if (box) {
    box.textContent = message;
    box.hidden = false;
  }
  field.setAttribute("aria-invalid", "true");
  setStatus(statusOf(form), "Not saved: see the error above.", "error");
  focusField(field);
}

/**
 * Runs a form's save once at a time (a second Enter while one is on its way does
 * nothing), with its submit button disabled meanwhile.
 */
export function onSubmit(form: HTMLFormElement, save: () => Promise<void>): void {
  let busy = false;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (busy) return;
    busy = true;
    const button = form.querySelector<HTMLButtonElement>("button[type=submit]");
    if (button) button.disabled = true;
    form.setAttribute("aria-busy", "true");
    setStatus(statusOf(form), "Saving…");
    save().finally(() => {
      busy = false;
      if (button) button.disabled = false;
      form.removeAttribute("aria-busy");
    });
  });
}

/**
 * Re-reads this page and swaps in the new content of the `data-refresh` parts inside
 * `root` (by id): the server renders every list, so a change looks exactly as a reload
 * would show it. The server's HTML is escaped; parsed nodes never run scripts. False
 * where the page could not be read (the change itself was made).
 */
export async function refreshParts(root: HTMLElement): Promise<boolean> {
  let html: string;
  try {
    const response = await fetch(location.pathname + location.search, {
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "text/html" },
    });
    if (!response.ok) return false;
    html = await response.text();
  } catch {
    return false;
  }
  const fresh = new DOMParser().parseFromString(html, "text/html");
  for (const part of root.querySelectorAll<HTMLElement>("[data-refresh][id]")) {
    const replacement = fresh.getElementById(part.id);
    if (replacement) part.replaceWith(document.importNode(replacement, true));
  }
  return true;
}

/** The status line of the section an element is in (outside its refreshed lists, so it survives a refresh). */
export function sectionStatusOf(element: Element): HTMLElement | null {
  return element.closest("section")?.querySelector<HTMLElement>("[data-section-status]") ?? null;
}

// ---- the two-step confirmation of destructive buttons (src/dashboard/confirm.tsx) ------------

function confirmParts(box: HTMLElement) {
  return {
    ask: box.querySelector<HTMLButtonElement>("[data-confirm-ask]"),
    step: box.querySelector<HTMLElement>("[data-confirm-step]"),
    yes: box.querySelector<HTMLButtonElement>("[data-confirm-yes]"),
  };
}

function closeConfirm(box: HTMLElement, focus: boolean): void {
  const { ask, step } = confirmParts(box);
  if (step) step.hidden = true;
  if (ask) {
    ask.hidden = false;
    if (focus) ask.focus();
  }
}

async function confirmed(box: HTMLElement): Promise<void> {
  const { yes } = confirmParts(box);
  const section = box.closest("section");
  const status = sectionStatusOf(box);
  const url = box.dataset.url;
  if (!yes || !section || !url || yes.disabled) return;
  yes.disabled = true;
  setStatus(status, "Working…");
  const answer = await send(box.dataset.method ?? "DELETE", url);
  yes.disabled = false;
  if (answer.status < 200 || answer.status > 299) {
    setStatus(status, `Not done: ${problemText(answer)}`, "error");
    closeConfirm(box, true);
    return;
  }
  const refreshed = await refreshParts(section);
  setStatus(
    status,
    refreshed ? (box.dataset.done ?? "Done.") : `${box.dataset.done ?? "Done."} Reload the page to see the list as it is now.`,
    "ok",
  );
  // The row is gone or redrawn: focus goes to the line that says what happened.
  if (!box.isConnected || refreshed) status?.focus();
}

/** Delegated from each section, so lists swapped in by a refresh work without new listeners. */
register({
  selector: "section:has([data-confirm]), section:has([data-refresh])",
  run: (section) => {
    section.addEventListener("click", (event) => {
      const target = (event.target as Element | null)?.closest<HTMLButtonElement>("button");
      const box = target?.closest<HTMLElement>("[data-confirm]");
      if (!target || !box) return;
      const { ask, step, yes } = confirmParts(box);
      if (target.hasAttribute("data-confirm-ask") && step && ask) {
        ask.hidden = true;
        step.hidden = false;
        yes?.focus();
      } else if (target.hasAttribute("data-confirm-no")) {
        closeConfirm(box, true);
      } else if (target.hasAttribute("data-confirm-yes")) {
        void confirmed(box);
      }
    });
    section.addEventListener("keydown", (event) => {
      if (event.key !== "Escape") return;
      const box = (event.target as Element | null)?.closest<HTMLElement>("[data-confirm]");
      if (box && confirmParts(box).step?.hidden === false) {
        event.preventDefault();
        closeConfirm(box, true);
      }
    });
  },
});
