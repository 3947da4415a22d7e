// The conversation page's writes and what they show: End / Reopen and the outcome
// (PATCH /v1/conversations/:id), "Answer as agent" (POST .../messages with role "agent"),
// and the header's state and the Events list as live updates bring them (conversation.ts
// calls applyState and applyEvents). After a write the page asks for an update at once
// (the `conversation:changed` event), so what was written shows even without a socket.
import { register } from "./enhance";
import { clearErrors, onSubmit, send, setStatus, showProblem, statusOf } from "./writes";

export type StateView = { status: "open" | "ended"; outcome: string | null; ended_at: string | null; ended_label: string };
export type EventView = { id: string; on: string; action: string; status: "ok" | "failed"; detail: string; fired_at: string; time: string };

/** Tells the page's live updates to fetch now. */
export const CHANGED_EVENT = "conversation:changed";

function bdi(text: string): HTMLElement {
  const element = document.createElement("bdi");
  element.dir = "auto";
  element.textContent = text;
  return element;
}

function span(className: string, text?: string): HTMLElement {
  const element = document.createElement("span");
  element.className = className;
  if (text !== undefined) element.textContent = text;
  return element;
}

/** The header's Status, Outcome and Ended, and the End / Reopen button, as the conversation now is. */
export function applyState(root: HTMLElement, state: StateView): void {
  const status = root.querySelector<HTMLElement>('[data-live="status"]');
  const label = state.status === "ended" ? "Ended" : "Open";
  if (status && status.textContent !== label) status.textContent = label;
  const outcome = root.querySelector<HTMLElement>('[data-live="outcome"]');
  const shown = outcome?.querySelector("bdi")?.textContent ?? null;
  if (outcome && shown !== state.outcome) outcome.replaceChildren(state.outcome === null ? span("unset", "None") : bdi(state.outcome));
  const ended = root.querySelector<HTMLElement>('[data-live="ended"]');
  const endedAt = root.querySelector<HTMLElement>('[data-live="ended-at"]');
  if (ended) ended.hidden = state.ended_at === null;
  if (endedAt && (endedAt.querySelector("time")?.getAttribute("datetime") ?? null) !== state.ended_at) {
    if (state.ended_at === null) endedAt.replaceChildren();
    else {
      const time = document.createElement("time");
      time.setAttribute("datetime", state.ended_at);
      time.textContent = state.ended_label;
      endedAt.replaceChildren(time);
    }
  }
  const toggle = root.querySelector<HTMLButtonElement>("button[data-set-status]");
  if (toggle) {
    const next = state.status === "ended" ? "open" : "ended";
    if (toggle.dataset.setStatus !== next) {
      toggle.dataset.setStatus = next;
      toggle.textContent = next === "open" ? "Reopen conversation" : "End conversation";
    }
  }
}

function eventItem(event: EventView): HTMLElement {
  const item = document.createElement("li");
  item.className = `event ${event.status === "ok" ? "event-ok" : "event-failed"}`;
  item.dataset.id = event.id;
  const meta = span("meta");
  const time = document.createElement("time");
  time.setAttribute("datetime", event.fired_at);
  time.textContent = event.time;
  meta.append(time, " · ", span("event-status", event.status === "ok" ? "OK" : "Failed"));
  item.append(meta, span("event-what", `${event.on} → ${event.action}`));
  if (event.detail) {
    const detail = span("event-detail");
    detail.append(bdi(event.detail));
    item.append(detail);
  }
  return item;
}

/** The Events list, newest first; redrawn only where what fired changed. */
export function applyEvents(root: HTMLElement, events: EventView[]): void {
  const list = root.querySelector<HTMLElement>("ol.events");
  if (!list) return;
  const shown = [...list.children].map((item) => (item as HTMLElement).dataset.id).join(" ");
  if (shown !== events.map((event) => event.id).join(" ")) list.replaceChildren(...events.map(eventItem));
  const empty = root.querySelector<HTMLElement>(".empty-events");
  if (empty) empty.hidden = events.length > 0;
}

const conversationIdOf = (element: Element) => element.closest<HTMLElement>("[data-conversation-id]")?.dataset.conversationId ?? "";

function changed(element: Element): void {
  element.dispatchEvent(new CustomEvent(CHANGED_EVENT, { bubbles: true }));
}

/** What PATCH answers: the conversation, whose state is applied to the header at once. */
function stateOf(body: Record<string, unknown>): StateView | null {
  if (body.status !== "open" && body.status !== "ended") return null;
  const endedAt = typeof body.ended_at === "string" ? body.ended_at : null;
  return {
    status: body.status,
    outcome: typeof body.outcome === "string" ? body.outcome : null,
    ended_at: endedAt,
    ended_label: endedAt ? `${endedAt.slice(0, 10)} ${endedAt.slice(11, 16)} UTC` : "",
  };
}

register({
  selector: "form[data-conversation-state]",
  run: (element) => {
    const form = element as HTMLFormElement;
    const root = form.closest<HTMLElement>("[data-conversation-id]");
    const id = conversationIdOf(form);
    const outcome = form.querySelector<HTMLInputElement>("input[name=outcome]")!;
    const toggle = form.querySelector<HTMLButtonElement>("button[data-set-status]")!;
    const patch = async (body: Record<string, unknown>, done: (state: StateView) => string) => {
      const answer = await send("PATCH", `/v1/conversations/${encodeURIComponent(id)}`, body);
      if (answer.status !== 200) return showProblem(form, answer);
      clearErrors(form);
      const state = stateOf(answer.body);
      if (state && root) {
        applyState(root, state);
        outcome.value = state.outcome ?? "";
        setStatus(statusOf(form), done(state), "ok");
      }
      changed(form);
    };
    onSubmit(form, () => {
      const value = outcome.value.trim();
      return patch({ outcome: value === "" ? null : value }, (state) =>
        state.outcome === null ? "Outcome cleared." : `Outcome set to ${state.outcome}.`,
      );
    });
    toggle.addEventListener("click", async () => {
      if (toggle.disabled) return;
      toggle.disabled = true;
      setStatus(statusOf(form), "Saving…");
      try {
        await patch({ status: toggle.dataset.setStatus === "open" ? "open" : "ended" }, (state) =>
          state.status === "ended"
            ? "The conversation has ended: the visitor's next message starts a new one."
            : "The conversation is open again.",
        );
      } finally {
        toggle.disabled = false;
      }
    });
  },
});

register({
  selector: "form[data-agent-answer]",
  run: (element) => {
    const form = element as HTMLFormElement;
    const id = conversationIdOf(form);
    const text = form.querySelector<HTMLTextAreaElement>("textarea[name=text]")!;
    // One id per message, kept across retries of it, so a retry after a lost answer is stored once.
    let pending: { text: string; id: string } | null = null;
    text.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    onSubmit(form, async () => {
      if (pending?.text !== text.value) pending = { text: text.value, id: `dash-${crypto.randomUUID()}` };
      const answer = await send("POST", `/v1/conversations/${encodeURIComponent(id)}/messages`, {
        text: text.value,
        role: "agent",
        client_message_id: pending.id,
      });
      if (answer.status !== 201 && answer.status !== 200) return showProblem(form, answer);
      pending = null;
      clearErrors(form);
      text.value = "";
      setStatus(statusOf(form), "Sent.", "ok");
      changed(form);
    });
  },
});
