// The chatbot page's Actions section: saves an action (PATCH /v1/actions/:id), creates one
// (POST /v1/actions), runs one (POST /v1/actions/:id/run) and shows its result and logs, or
// its error and logs. Submits are delegated from the section, so the forms of a list swapped
// in by a refresh work without new listeners. Deleting is the confirm step of writes.ts.
import { register } from "./enhance";
import { clearErrors, refreshParts, sectionStatusOf, send, setStatus, showLocalError, showProblem, statusOf } from "./writes";

/** A number field's value: undefined where empty, NaN where it is not a whole number. */
function wholeNumber(input: HTMLInputElement): number | undefined {
  const text = input.value.trim();
  if (text === "") return input.validity.badInput ? Number.NaN : undefined;
  return /^-?\d+$/.test(text) ? Number(text) : Number.NaN;
}

/** The editor's fields as the API takes them; null where one was refused here (shown already). */
function actionBody(form: HTMLFormElement): Record<string, unknown> | null {
  const field = <T extends HTMLElement>(name: string) => form.querySelector<T>(`[name=${name}]`)!;
  const timeoutField = field<HTMLInputElement>("timeout_ms");
  const timeout = wholeNumber(timeoutField);
  if (Number.isNaN(timeout)) {
    showLocalError(form, timeoutField, "Give a whole number of milliseconds.");
    return null;
  }
  const body: Record<string, unknown> = {
    name: field<HTMLInputElement>("name").value,
    code: field<HTMLTextAreaElement>("code").value,
    allowed_hosts: field<HTMLTextAreaElement>("allowed_hosts")
      .value.split("\n")
      .map((line) => line.trim())
      .filter((line) => line !== ""),
  };
  if (timeout !== undefined) body.timeout_ms = timeout;
  return body;
}

async function saveAction(form: HTMLFormElement): Promise<void> {
  const body = actionBody(form);
  if (!body) return;
  const answer = await send("PATCH", `/v1/actions/${encodeURIComponent(form.dataset.actionId ?? "")}`, body);
  if (answer.status !== 200) return showProblem(form, answer);
  clearErrors(form);
  const version = form.closest("article")?.querySelector("[data-action-version]");
  if (version) version.textContent = String(answer.body.version ?? "");
  setStatus(statusOf(form), `Saved: version ${String(answer.body.version ?? "")}.`, "ok");
}

async function createAction(form: HTMLFormElement, section: HTMLElement): Promise<void> {
  const body = actionBody(form);
  if (!body) return;
  const scope = form.querySelector<HTMLSelectElement>("select[name=chatbot_id]")!.value;
  body.chatbot_id = scope === "" ? null : scope;
  const answer = await send("POST", "/v1/actions", body);
  if (answer.status !== 201) return showProblem(form, answer);
  clearErrors(form);
  // Back to the template, ready for the next one.
  form.reset();
  const refreshed = await refreshParts(section);
  const status = sectionStatusOf(form);
  setStatus(status, refreshed ? "Action created." : "Action created. Reload the page to see it.", "ok");
  setStatus(statusOf(form), "");
  status?.focus();
}

async function runAction(form: HTMLFormElement): Promise<void> {
  const output = form.querySelector<HTMLElement>("[data-run-output]")!;
  const result = form.querySelector<HTMLElement>("[data-run-result]")!;
  const logs = form.querySelector<HTMLElement>("[data-run-logs]")!;
  const inputField = form.querySelector<HTMLTextAreaElement>("textarea[name=input]")!;
  const conversation = form.querySelector<HTMLSelectElement>("select[name=conversation_id]")!.value;
  const body: Record<string, unknown> = {};
  if (conversation !== "") body.conversation_id = conversation;
  if (inputField.value.trim() !== "") {
    try {
      body.input = JSON.parse(inputField.value);
    } catch (error) {
      output.hidden = true;
      return showLocalError(form, inputField, `Not valid JSON: ${(error as Error).message}`);
    }
  }
  const answer = await send("POST", `/v1/actions/${encodeURIComponent(form.dataset.actionId ?? "")}/run`, body);
  const failed = answer.status === 422 && typeof answer.body.error === "string";
  if (answer.status !== 200 && !failed) {
    output.hidden = true;
    return showProblem(form, answer);
  }
  clearErrors(form);
  const lines = Array.isArray(answer.body.logs) ? answer.body.logs.map(String) : [];
  // textContent only: results and logs are the action's own text.
  result.textContent = failed ? String(answer.body.error) : JSON.stringify(answer.body.result, null, 2);
  result.classList.toggle("error", failed);
  logs.textContent = lines.length === 0 ? "No logs." : lines.join("\n");
  output.hidden = false;
  const duration = typeof answer.body.duration_ms === "number" ? `${answer.body.duration_ms} ms` : "";
  setStatus(statusOf(form), failed ? `Failed after ${duration}.` : `Ran in ${duration}.`, failed ? "error" : "ok");
  // The new run joins the last runs (this action's list only, so the forms keep their text).
  const wrap = form.closest("article")?.querySelector<HTMLElement>("[data-runs-wrap]");
  if (wrap) await refreshParts(wrap);
}

const busy = new WeakSet<HTMLFormElement>();

register({
  selector: "section#custom-actions",
  run: (section) => {
    section.addEventListener("submit", (event) => {
      const form = event.target as HTMLFormElement;
      const work = form.hasAttribute("data-action-edit")
        ? () => saveAction(form)
        : form.hasAttribute("data-action-create")
          ? () => createAction(form, section)
          : form.hasAttribute("data-action-run")
            ? () => runAction(form)
            : null;
      if (!work) return;
      event.preventDefault();
      if (busy.has(form)) return;
      busy.add(form);
      const button = form.querySelector<HTMLButtonElement>(":scope > .actions > button[type=submit]");
      if (button) button.disabled = true;
      form.setAttribute("aria-busy", "true");
      setStatus(statusOf(form), form.hasAttribute("data-action-run") ? "Running…" : "Saving…");
      work().finally(() => {
        busy.delete(form);
        if (button) button.disabled = false;
        form.removeAttribute("aria-busy");
      });
    });
  },
});
