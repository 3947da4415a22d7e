// The chatbot pages' behaviours: create a chatbot, save its settings, rotate its identity
// secret and copy the widget snippet. Every write goes to the JSON API with the session
// cookie (same origin, so fetch sends this origin's Origin); the API validates, and its
// problems are shown next to the fields their pointers name.
import { register } from "./enhance";
import { clearErrors, errorBoxOf, fieldsOf, send as sendWrite, setStatus as setStatusLine, statusOf } from "./writes";

type FieldError = { pointer: string; message: string };
type Problem = { title?: string; detail?: string; errors?: FieldError[] };
/** What the API answers: a chatbot, a new secret, or a problem; every member is checked before use. */
type Body = Problem & {
  id?: unknown;
  name?: unknown;
  allowed_origins?: unknown;
  participant_data_schema?: unknown;
  identity_verification?: unknown;
  stand_in_replies?: unknown;
  secret?: unknown;
};
type Answer = { status: number; body: Body };

/** A write through the shared client (writes.ts), its body read as what these pages expect. */
async function send(method: string, url: string, body?: unknown): Promise<Answer> {
  const answer = await sendWrite(method, url, body);
  return { status: answer.status, body: answer.body as Body };
}

function setStatus(root: Element, text: string, kind: "ok" | "error" | "" = ""): void {
  setStatusLine(statusOf(root), text, kind);
}

const unescapePointer = (part: string) => part.replaceAll("~1", "/").replaceAll("~0", "~");

/** How an error reads next to its field: a line number for a list of lines, the path inside a JSON field. */
function describe(field: HTMLElement, error: FieldError): string {
  const base = field.dataset.pointer ?? "";
  const rest = error.pointer.slice(base.length);
  if (field.hasAttribute("data-lines")) {
    // The API numbers the non-empty lines it was sent; the person counts every line.
    const index = Number(unescapePointer(rest.split("/")[1] ?? "x"));
    const all = (field as HTMLTextAreaElement).value.split(/\r?\n/);
    const kept = all.map((line, number) => ({ line: line.trim(), number })).filter(({ line }) => line !== "");
    const at = Number.isInteger(index) ? kept[index] : undefined;
    return at ? `Line ${at.number + 1} (${at.line}): ${error.message}` : error.message;
  }
  if (field.tagName === "TEXTAREA") return `At ${rest === "" ? "the top level" : rest}: ${error.message}`;
  return error.message;
}

/**
 * Shows a problem: each error next to the field its pointer falls under (the first such
 * field gets focus), the rest and the detail in the form's status line.
 */
function showProblem(form: HTMLFormElement, problem: Problem, status: number): void {
  clearErrors(form);
  const fields = fieldsOf(form);
  const unplaced: string[] = [];
  let first: HTMLElement | null = null;
  for (const error of problem.errors ?? []) {
    if (typeof error?.pointer !== "string" || typeof error.message !== "string") continue;
    const field = fields.find((candidate) => {
      const base = candidate.dataset.pointer ?? "";
      return error.pointer === base || error.pointer.startsWith(`${base}/`);
    });
    const box = field ? errorBoxOf(field) : null;
    if (!field || !box) {
      unplaced.push(`${error.pointer || "(body)"}: ${error.message}`);
      continue;
    }
    field.setAttribute("aria-invalid", "true");
    const text = describe(field, error);
    if (box.tagName === "UL") {
      const item = document.createElement("li");
      item.textContent = text;
      box.append(item);
    } else {
      box.textContent = box.textContent ? `${box.textContent} ${text}` : text;
    }
    box.hidden = false;
    first ??= field;
  }
  const detail = problem.detail ?? problem.title ?? `The request failed (${status}).`;
  setStatus(
    form,
    first && unplaced.length === 0 ? "Not saved: see the errors above." : `Not saved: ${[detail, ...unplaced].join(" ")}`,
    "error",
  );
  const focusable = first?.tagName === "FIELDSET" ? first.querySelector<HTMLElement>("input:checked, input") : first;
  focusable?.focus();
}

/** Shows an error of the JSON itself next to the field, before anything is sent. */
function showLocalError(form: HTMLFormElement, field: HTMLElement, message: string): void {
  clearErrors(form);
  const box = errorBoxOf(field);
  if (box) {
    const item = document.createElement(box.tagName === "UL" ? "li" : "span");
    item.textContent = message;
    box.replaceChildren(item);
    box.hidden = false;
  }
  field.setAttribute("aria-invalid", "true");
  setStatus(form, "Not saved: see the error above.", "error");
  field.focus();
}

function chatbotIdOf(element: Element): string {
  return element.closest<HTMLElement>("[data-chatbot-id]")?.dataset.chatbotId ?? "";
}

function lines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "");
}

/**
 * Runs a form's save while its submit button is disabled, so a double press sends once.
 * A read-only form (no submit button) never sends: Enter in a field does nothing.
 */
function onSubmit(form: HTMLFormElement, save: () => Promise<void>): void {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!form.querySelector("button[type=submit]")) return;
    const button = form.querySelector<HTMLButtonElement>("button[type=submit]");
    if (button?.disabled) return;
    if (button) button.disabled = true;
    setStatus(form, "Saving…");
    save().finally(() => {
      if (button) button.disabled = false;
    });
  });
}

register({
  selector: "form[data-chatbot-create]",
  run: (element) => {
    const form = element as HTMLFormElement;
    const name = form.querySelector<HTMLInputElement>("input[name=name]")!;
    onSubmit(form, async () => {
      const answer = await send("POST", "/v1/chatbots", { name: name.value });
      if (answer.status === 201 && typeof answer.body.id === "string") {
        setStatus(form, "Created.", "ok");
        location.assign(`/dashboard/chatbots/${encodeURIComponent(answer.body.id)}`);
        return;
      }
      showProblem(form, answer.body, answer.status);
    });
  },
});

/** After a save, the page shows what the API stored (trimmed name, origins without duplicates). */
function showSaved(chatbot: Body): void {
  const title = document.querySelector("#chatbot-title bdi");
  if (title && typeof chatbot.name === "string") {
    title.textContent = chatbot.name;
    document.title = `${chatbot.name} · Chatbots · Chat Context`;
  }
}

register({
  selector: "form[data-chatbot-form=general]",
  run: (element) => {
    const form = element as HTMLFormElement;
    const id = chatbotIdOf(form);
    const name = form.querySelector<HTMLInputElement>("input[name=name]")!;
    const origins = form.querySelector<HTMLTextAreaElement>("textarea[name=allowed_origins]")!;
    onSubmit(form, async () => {
      const answer = await send("PATCH", `/v1/chatbots/${encodeURIComponent(id)}`, {
        name: name.value,
        allowed_origins: lines(origins.value),
      });
      if (answer.status !== 200) return showProblem(form, answer.body, answer.status);
      clearErrors(form);
      if (typeof answer.body.name === "string") name.value = answer.body.name;
      if (Array.isArray(answer.body.allowed_origins)) origins.value = answer.body.allowed_origins.join("\n");
      showSaved(answer.body);
      setStatus(form, "Saved.", "ok");
    });
  },
});

register({
  selector: "form[data-chatbot-form=schema]",
  run: (element) => {
    const form = element as HTMLFormElement;
    const id = chatbotIdOf(form);
    const box = form.querySelector<HTMLTextAreaElement>("textarea[name=participant_data_schema]")!;
    onSubmit(form, async () => {
      let schema: unknown = null;
      if (box.value.trim() !== "") {
        try {
          schema = JSON.parse(box.value);
        } catch (error) {
          return showLocalError(form, box, `Not valid JSON: ${(error as Error).message}`);
        }
      }
      const answer = await send("PATCH", `/v1/chatbots/${encodeURIComponent(id)}`, { participant_data_schema: schema });
      if (answer.status !== 200) return showProblem(form, answer.body, answer.status);
      clearErrors(form);
      const saved = answer.body.participant_data_schema;
      box.value = saved === null ? "" : JSON.stringify(saved, null, 2);
      setStatus(form, saved === null ? "Saved: no schema, participant data is not checked." : "Saved.", "ok");
    });
  },
});

register({
  selector: "form[data-chatbot-form=replies]",
  run: (element) => {
    const form = element as HTMLFormElement;
    const id = chatbotIdOf(form);
    const box = form.querySelector<HTMLInputElement>("input[name=stand_in_replies]")!;
    onSubmit(form, async () => {
      const answer = await send("PATCH", `/v1/chatbots/${encodeURIComponent(id)}`, { stand_in_replies: box.checked });
      if (answer.status !== 200) return showProblem(form, answer.body, answer.status);
      clearErrors(form);
      box.checked = answer.body.stand_in_replies === true;
      setStatus(form, box.checked ? "Saved: visitors get the stand-in reply." : "Saved: no stand-in replies.", "ok");
    });
  },
});

register({
  selector: "form[data-chatbot-form=identity]",
  run: (element) => {
    const form = element as HTMLFormElement;
    const id = chatbotIdOf(form);
    onSubmit(form, async () => {
      const chosen = form.querySelector<HTMLInputElement>("input[name=identity_verification]:checked");
      const answer = await send("PATCH", `/v1/chatbots/${encodeURIComponent(id)}`, { identity_verification: chosen?.value ?? "off" });
      if (answer.status !== 200) return showProblem(form, answer.body, answer.status);
      clearErrors(form);
      setStatus(
        form,
        answer.body.identity_verification === "required"
          ? "Saved: identity verification is required."
          : "Saved: identity verification is off.",
        "ok",
      );
    });
  },
});

register({
  selector: "button[data-rotate-secret]",
  run: (element) => {
    const button = element as HTMLButtonElement;
    const controls = button.parentElement!;
    const id = chatbotIdOf(button);
    button.addEventListener("click", async () => {
      if (button.disabled) return;
      button.disabled = true;
      setStatus(controls, "Creating a new secret…");
      const answer = await send("POST", `/v1/chatbots/${encodeURIComponent(id)}/identity-secret`);
      button.disabled = false;
      if (answer.status !== 201 || typeof answer.body.secret !== "string") {
        setStatus(controls, `Not created: ${answer.body.detail ?? `the request failed (${answer.status}).`}`, "error");
        return;
      }
      const output = document.getElementById("identity-secret-output")!;
      document.getElementById("identity-secret-value")!.textContent = answer.body.secret;
      output.hidden = false;
      const state = document.getElementById("identity-secret-state");
      if (state) {
        state.textContent = "An identity secret is set.";
        state.dataset.secretSet = "true";
      }
      button.textContent = "Rotate identity secret";
      setStatus(controls, "A new identity secret was created.", "ok");
      output.querySelector<HTMLButtonElement>("button[data-copy]")?.focus();
    });
  },
});

/** Copies the named element's text: the clipboard where the browser allows it, else selects it for Ctrl+C. */
register({
  selector: "button[data-copy]",
  run: (element) => {
    const button = element as HTMLButtonElement;
    const container = button.parentElement!;
    button.addEventListener("click", async () => {
      const source = document.getElementById(button.dataset.copy ?? "");
      if (!source) return;
      let copied = false;
      try {
        await navigator.clipboard.writeText(source.textContent ?? "");
        copied = true;
      } catch {
        const range = document.createRange();
        range.selectNodeContents(source);
        const selection = getSelection();
        selection?.removeAllRanges();
        selection?.addRange(range);
      }
      // The button keeps its name (what it copies); the status line says what happened.
      setStatus(container, copied ? "Copied to the clipboard." : "Selected: press Ctrl+C (⌘C) to copy.", copied ? "ok" : "");
    });
  },
});
