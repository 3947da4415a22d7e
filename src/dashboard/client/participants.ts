// Participants: create, CSV export and import, the customer record and the data editor.
// Every change goes to the JSON API with the session cookie; the API validates, checks
// If-Match and the chatbot's schema and refuses read keys, and its problems are shown here
// next to the fields their JSON pointers name. Values are only ever set as text.
import { register } from "./enhance";
import { jsonText } from "./json-text";

type FieldError = { pointer?: unknown; message?: unknown };
type Problem = { title?: unknown; detail?: unknown; errors?: unknown; existing?: { id?: unknown } };
/** An API answer (`body` is its JSON, or null), or null where the server could not be reached. */
type Answer = { status: number; body: Json; headers: Headers } | null;
/** A parsed JSON body, read field by field with runtime checks. */
type Json = Record<string, unknown> | null;

const ID = /^[a-z]{2,5}_[0-9a-z]{26}$/;

async function send(method: string, url: string, body?: BodyInit, headers: Record<string, string> = {}): Promise<Answer> {
  try {
    const response = await fetch(url, { method, body, headers, credentials: "same-origin", cache: "no-store" });
    const type = response.headers.get("Content-Type") ?? "";
    const text = await response.text();
    let json: Json = null;
    if (/json/.test(type) && text) {
      try {
        const parsed: unknown = JSON.parse(text);
        if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) json = parsed as Record<string, unknown>;
      } catch {
        json = null;
      }
    }
    return { status: response.status, body: json, headers: response.headers };
  } catch {
    return null;
  }
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, className?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

/** A value someone set, isolated for bidi as the server's pages do. */
function isolated(text: string): HTMLElement {
  const bdi = element("bdi", text);
  bdi.dir = "auto";
  return bdi;
}

function problemErrors(problem: Problem | null): { pointer: string; message: string }[] {
  if (!problem || !Array.isArray(problem.errors)) return [];
  return (problem.errors as FieldError[])
    .filter((error) => typeof error?.pointer === "string" && typeof error.message === "string")
    .map((error) => ({ pointer: error.pointer as string, message: error.message as string }));
}

/** What went wrong, in a sentence, for an answer no field explains. */
function failure(answer: Answer, action: string): Node {
  if (answer === null) return document.createTextNode(`Could not reach the server: ${action}. Check the connection and try again.`);
  if (answer.status === 401) {
    const line = element("span", "Your session has ended. ");
    const link = element("a", "Sign in again");
    link.href = `/dashboard/login?next=${encodeURIComponent(location.pathname)}`;
    line.append(link, document.createTextNode(` (${action}).`));
    return line;
  }
  const problem = answer.body as Problem | null;
  const detail = typeof problem?.detail === "string" ? problem.detail : `The server answered ${answer.status}.`;
  const title = typeof problem?.title === "string" ? `${problem.title}: ` : "";
  return document.createTextNode(`${title}${detail}`);
}

/** The form's outcome line (a status region, empty until used), focused where it holds what to do next. */
function showOutcome(form: HTMLElement, kind: "ok" | "error", content: Node | string, focus = false): void {
  const outcome = form.querySelector<HTMLElement>("[data-outcome]");
  if (!outcome) return;
  outcome.className = `form-outcome ${kind === "ok" ? "ok" : "error"}`;
  outcome.replaceChildren(typeof content === "string" ? document.createTextNode(content) : content);
  if (focus) outcome.focus();
}

function clearOutcome(form: HTMLElement): void {
  form.querySelector<HTMLElement>("[data-outcome]")?.replaceChildren();
}

/** The message place of a control: `<id>-error`, named in its aria-describedby. */
function errorPlaceOf(control: HTMLElement): HTMLElement | null {
  return control.id ? document.getElementById(`${control.id}-error`) : null;
}

function clearFieldErrors(form: HTMLElement): void {
  for (const control of form.querySelectorAll<HTMLElement>("[data-pointer], input[type=file]")) {
    control.removeAttribute("aria-invalid");
    const place = errorPlaceOf(control);
    if (place) {
      place.textContent = "";
      place.hidden = true;
    }
  }
}

function setFieldError(control: HTMLElement, message: string): void {
  control.setAttribute("aria-invalid", "true");
  const place = errorPlaceOf(control);
  if (place) {
    place.textContent = message;
    place.hidden = false;
  }
}

/** Shows each error at the control its pointer names; returns those no control takes. Focuses the first field. */
function showFieldErrors(form: HTMLElement, errors: { pointer: string; message: string }[]): { pointer: string; message: string }[] {
  const left: { pointer: string; message: string }[] = [];
  let first: HTMLElement | null = null;
  for (const error of errors) {
    const control = [...form.querySelectorAll<HTMLElement>("[data-pointer]")].find((node) => node.dataset.pointer === error.pointer);
    if (!control) {
      left.push(error);
      continue;
    }
    setFieldError(control, error.message);
    first ??= control;
  }
  first?.focus();
  return left;
}

/** One request at a time per form: a second Enter while one is on its way does nothing. */
function guarded(form: HTMLFormElement, submit: () => Promise<void>): void {
  let busy = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return;
    busy = true;
    form.setAttribute("aria-busy", "true");
    try {
      await submit();
    } finally {
      busy = false;
      form.removeAttribute("aria-busy");
    }
  });
}

const participantHref = (id: string) => `/dashboard/participants/${id}`;

// ---- create ----------------------------------------------------------------------

register({
  selector: "form[data-participant-create]",
  run(node) {
    const form = node as HTMLFormElement;
    guarded(form, async () => {
      clearFieldErrors(form);
      clearOutcome(form);
      const fields = new FormData(form);
      const text = (name: string) => String(fields.get(name) ?? "");
      // The identifier is kept exactly as typed, as the API stores it.
      const body: Record<string, string> = {
        chatbot_id: text("chatbot_id"),
        channel: text("channel").trim(),
        identifier: text("identifier"),
      };
      if (text("name").trim() !== "") body.name = text("name");
      const answer = await send("POST", "/v1/participants", JSON.stringify(body), { "Content-Type": "application/json" });
      if (answer?.status === 201 && typeof answer.body?.id === "string" && ID.test(answer.body.id)) {
        location.assign(participantHref(answer.body.id));
        return;
      }
      const problem = (answer?.body ?? null) as Problem | null;
      const existing = problem?.existing?.id;
      if (answer?.status === 409 && typeof existing === "string" && ID.test(existing)) {
        const line = element("span", "A participant with this identifier already exists. ");
        const link = element("a", "Open the existing participant");
        link.href = participantHref(existing);
        line.append(link);
        showOutcome(form, "error", line, true);
        return;
      }
      if (answer?.status === 404) {
        const chatbot = form.querySelector<HTMLElement>("[data-pointer='/chatbot_id']");
        if (chatbot) setFieldError(chatbot, "That chatbot is not one of your team's (was it deleted?). Reload the page.");
        return;
      }
      const left = answer?.status === 400 ? showFieldErrors(form, problemErrors(problem)) : [];
      if (answer?.status !== 400 || left.length > 0 || problemErrors(problem).length === 0) {
        showOutcome(form, "error", failure(answer, "the participant was not created"), true);
      }
    });
  },
});

// ---- CSV export and import --------------------------------------------------------

function importReport(report: { created?: unknown; updated?: unknown; unchanged?: unknown; errors?: unknown }): DocumentFragment {
  const count = (value: unknown) => (typeof value === "number" ? value : 0);
  const errors = Array.isArray(report.errors)
    ? (report.errors as { row?: unknown; message?: unknown }[]).filter((error) => typeof error?.message === "string")
    : [];
  const fragment = document.createDocumentFragment();
  fragment.append(
    element(
      "p",
      `Import finished: ${count(report.created)} created, ${count(report.updated)} updated, ${count(report.unchanged)} unchanged, ` +
        `${errors.length} ${errors.length === 1 ? "row" : "rows"} not imported.`,
      errors.length > 0 ? "error" : "ok",
    ),
  );
  if (errors.length === 0) return fragment;
  const table = element("table", undefined, "import-errors");
  table.append(element("caption", "Rows not imported"));
  const head = element("thead");
  const headRow = element("tr");
  for (const label of ["Row", "Error"]) {
    const cell = element("th", label);
    cell.scope = "col";
    headRow.append(cell);
  }
  head.append(headRow);
  const tbody = element("tbody");
  for (const error of errors) {
    const row = element("tr");
    const number = element("td", typeof error.row === "number" ? String(error.row) : "");
    const message = element("td");
    message.append(isolated(error.message as string));
    row.append(number, message);
    tbody.append(row);
  }
  table.append(head, tbody);
  fragment.append(table);
  return fragment;
}

register({
  selector: "[data-participant-csv]",
  run(section) {
    const select = section.querySelector<HTMLSelectElement>("[data-csv-chatbot]");
    const link = section.querySelector<HTMLAnchorElement>("[data-csv-export]");
    if (!select || !link) return;
    const exportHref = () => `/v1/participants/export?chatbot_id=${encodeURIComponent(select.value)}`;
    select.addEventListener("change", () => {
      link.href = exportHref();
    });
    link.href = exportHref();

    const form = section.querySelector<HTMLFormElement>("form[data-csv-import]");
    const report = section.querySelector<HTMLElement>("[data-import-report]");
    const input = form?.querySelector<HTMLInputElement>("input[type=file]");
    if (!form || !report || !input) return;
    const show = (content: Node) => {
      report.replaceChildren(content);
      report.hidden = false;
      report.focus();
    };
    guarded(form, async () => {
      clearFieldErrors(form);
      report.replaceChildren();
      report.hidden = true;
      const file = input.files?.[0];
      if (!file) {
        setFieldError(input, "Choose a CSV file to import.");
        input.focus();
        return;
      }
      // The file's bytes as they are: the API decodes them (and refuses what is not UTF-8).
      const answer = await send("POST", `/v1/participants/import?chatbot_id=${encodeURIComponent(select.value)}`, file, {
        "Content-Type": "text/csv",
      });
      if (answer?.status === 200 && answer.body) {
        show(importReport(answer.body));
        return;
      }
      const line = element("p", undefined, "error");
      line.append(failure(answer, "nothing was imported"));
      show(line);
    });
  },
});

// ---- the customer record ----------------------------------------------------------

register({
  selector: "form[data-customer-form]",
  run(node) {
    const form = node as HTMLFormElement;
    const id = form.dataset.participantId ?? "";
    const inputs = [...form.querySelectorAll<HTMLInputElement>("input[data-pointer]")];
    guarded(form, async () => {
      clearFieldErrors(form);
      clearOutcome(form);
      // Only what was changed here, so a field the widget set meanwhile is not overwritten.
      const body: Record<string, string | null> = {};
      for (const input of inputs) if (input.value !== input.defaultValue) body[input.name] = input.value.trim() === "" ? null : input.value;
      if (Object.keys(body).length === 0) {
        showOutcome(form, "ok", "Nothing changed: there is nothing to save.");
        return;
      }
      const answer = await send("PATCH", `/v1/participants/${encodeURIComponent(id)}`, JSON.stringify(body), {
        "Content-Type": "application/json",
      });
      if (answer?.status === 200 && answer.body) {
        // The API normalizes what it stores (trimmed names, lower-case email domains): show that.
        for (const input of inputs) {
          const stored = answer.body[input.name];
          input.value = typeof stored === "string" ? stored : "";
          input.defaultValue = input.value;
        }
        showOutcome(form, "ok", "Customer record saved.");
        return;
      }
      const problem = (answer?.body ?? null) as Problem | null;
      const left = answer?.status === 400 ? showFieldErrors(form, problemErrors(problem)) : [];
      if (answer?.status !== 400 || left.length > 0 || problemErrors(problem).length === 0) {
        showOutcome(form, "error", failure(answer, "nothing was saved"), true);
      }
    });
  },
});

// ---- the data editor --------------------------------------------------------------

function pointerLabel(pointer: string): string {
  return pointer === "" ? "the whole object" : pointer;
}

register({
  selector: "form[data-data-editor]",
  run(node) {
    const form = node as HTMLFormElement;
    const id = form.dataset.participantId ?? "";
    const textarea = form.querySelector<HTMLTextAreaElement>("textarea");
    const errors = form.querySelector<HTMLElement>("[data-data-errors]");
    const conflict = form.parentElement?.querySelector<HTMLElement>("[data-data-conflict]");
    if (!textarea || !errors || !conflict) return;
    let version = Number(form.dataset.version);

    const setVersion = (next: number) => {
      version = next;
      form.dataset.version = String(next);
      for (const label of form.querySelectorAll("[data-version-label]")) label.textContent = String(next);
    };
    const clearErrors = () => {
      errors.replaceChildren();
      errors.hidden = true;
      textarea.removeAttribute("aria-invalid");
    };
    const showErrors = (...content: Node[]) => {
      errors.replaceChildren(...content);
      errors.hidden = false;
      textarea.setAttribute("aria-invalid", "true");
    };
    const load = (data: unknown) => {
      textarea.value = jsonText(data);
      textarea.defaultValue = textarea.value;
    };

    /** A view of JSON text, scrollable and reachable by keyboard. */
    const jsonView = (text: string, label: string) => {
      const view = element("section", undefined, "json-view");
      view.tabIndex = 0;
      view.setAttribute("aria-label", label);
      view.append(element("pre", text, "json-text"));
      return view;
    };

    /** Someone saved meanwhile: both versions side by side; nothing of either is lost. */
    const showConflict = (newer: { data: unknown; version: number }, mine: string) => {
      const heading = element("h3", "Someone else changed this data");
      heading.tabIndex = -1;
      const explain = element(
        "p",
        `It is now version ${newer.version}; you were editing version ${version}. Nothing was saved. ` +
          "Take the newer version, re-apply your change to it, then save.",
      );
      const newerColumn = element("div");
      newerColumn.append(element("h4", `Newer data (version ${newer.version})`), jsonView(jsonText(newer.data), "Newer data (JSON)"));
      const mineColumn = element("div");
      mineColumn.append(element("h4", "Your edit (not saved)"), jsonView(mine, "Your edit (JSON)"));
      const columns = element("div", undefined, "side-by-side");
      columns.append(newerColumn, mineColumn);
      const take = element("button", "Take the newer version");
      take.type = "button";
      take.className = "primary";
      take.addEventListener("click", () => {
        load(newer.data);
        setVersion(newer.version);
        clearErrors();
        explain.textContent = `The editor now holds version ${newer.version}. Your edit is kept here until you save: re-apply your change in the editor.`;
        newerColumn.remove();
        const dismiss = element("button", "Dismiss your edit");
        dismiss.type = "button";
        dismiss.addEventListener("click", () => {
          conflict.replaceChildren();
          conflict.hidden = true;
          textarea.focus();
        });
        take.replaceWith(dismiss);
        textarea.focus();
      });
      conflict.replaceChildren(heading, explain, columns, take);
      conflict.hidden = false;
      heading.focus();
    };

    guarded(form, async () => {
      clearErrors();
      clearOutcome(form);
      const text = textarea.value;
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (error) {
        showErrors(
          element("p", `This is not valid JSON: ${error instanceof Error ? error.message : "it does not parse"}. Nothing was saved.`),
        );
        textarea.focus();
        return;
      }
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
        showErrors(element("p", 'The data must be a JSON object, such as {} or {"plan": "pro"}. Nothing was saved.'));
        textarea.focus();
        return;
      }
      const answer = await send("PUT", `/v1/participants/${encodeURIComponent(id)}/data`, text, {
        "Content-Type": "application/json",
        "If-Match": `"${version}"`,
      });
      if (answer?.status === 200 && typeof answer.body?.version === "number") {
        load(answer.body.data);
        setVersion(answer.body.version);
        conflict.replaceChildren();
        conflict.hidden = true;
        showOutcome(form, "ok", `Saved as version ${answer.body.version}.`);
        return;
      }
      if (answer?.status === 412) {
        const current = await send("GET", `/v1/participants/${encodeURIComponent(id)}`);
        if (current?.status === 200 && typeof current.body?.version === "number") {
          showConflict({ data: current.body.data, version: current.body.version }, text);
          return;
        }
        showOutcome(form, "error", failure(current, "the newer version could not be read; nothing was saved"), true);
        return;
      }
      const problem = (answer?.body ?? null) as Problem | null;
      const paths = problemErrors(problem);
      if (answer?.status === 422 && paths.length > 0) {
        const list = element("ul");
        for (const error of paths) {
          const item = element("li");
          item.append(element("code", pointerLabel(error.pointer)), document.createTextNode(": "), isolated(error.message));
          list.append(item);
        }
        showErrors(element("p", "Not saved: the data does not match the chatbot's schema."), list);
        textarea.focus();
        return;
      }
      if (answer && (answer.status === 400 || answer.status === 413 || answer.status === 422)) {
        showErrors(element("p", "Not saved."), failure(answer, "nothing was saved"));
        textarea.focus();
        return;
      }
      showOutcome(form, "error", failure(answer, "nothing was saved"), true);
    });
  },
});
