// The widget's view: a launcher and a chat panel in a shadow root, built with the DOM, and
// the conversation's bubbles. Every text goes through textContent into an element with
// dir="auto", so a value's own bidi controls (U+202E) cannot reorder what is around it.
// One view per run of the bundle: createView builds it once, the other functions act on it.
import type { Message } from "./api";
import { CSS } from "./styles";

const MESSAGE_MAX_LENGTH = 10_000;

/** What the visitor does, for the widget to act on. */
type ViewEvents = {
  /** The launcher, the close button or Escape: the panel should be `open`. */
  toggle(open: boolean): void;
  /** A message to send (never blank); the message box is already cleared. */
  send(text: string): void;
  /** What is in the message box changed. */
  draft(text: string): void;
  /** A failed message's Retry button. */
  retry(): void;
};

let on: ViewEvents;
let root: HTMLElement;
let launcher: HTMLButtonElement;
let panel: HTMLElement;
let log: HTMLElement;
let empty: HTMLElement;
let status: HTMLElement;
let input: HTMLTextAreaElement;
/** message id -> its bubble */
const bubbles = new Map<string, HTMLElement>();

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text) node.textContent = text;
  return node;
}

/** Builds the view, closed, with `draft` in the message box; answers the element to put in the page. */
export function createView(title: string, draft: string, events: ViewEvents): HTMLElement {
  on = events;
  const host = document.createElement("chat-context-widget");
  // CSSOM, not a style attribute: allowed under a strict style-src.
  host.style.setProperty("all", "initial", "important");
  host.style.setProperty("display", "block", "important");
  const shadow = host.attachShadow({ mode: "open" });
  if ("adoptedStyleSheets" in shadow && typeof CSSStyleSheet === "function" && "replaceSync" in CSSStyleSheet.prototype) {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    shadow.adoptedStyleSheets = [sheet];
  } else {
    shadow.append(el("style", "", CSS));
  }

  root = el("div", "root");
  launcher = el("button", "launcher");
  launcher.type = "button";
  launcher.setAttribute("aria-label", "Open chat");
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", "panel");
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z");
  svg.append(path);
  launcher.append(svg);

  panel = el("section", "panel");
  panel.id = "panel";
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", title);
  const header = el("header");
  const heading = el("h2", "", title);
  heading.dir = "auto";
  const close = el("button", "close", "\u00d7");
  close.type = "button";
  close.setAttribute("aria-label", "Close chat");
  header.append(heading, close);

  log = el("div", "log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  // Focusable, so a keyboard can scroll a conversation longer than the panel.
  log.tabIndex = 0;
  empty = el("p", "empty", "Ask us anything.");
  log.append(empty);
  status = el("p", "status");
  status.setAttribute("role", "status");

  const form = el("form");
  input = el("textarea");
  input.setAttribute("aria-label", "Message");
  input.rows = 1;
  input.maxLength = MESSAGE_MAX_LENGTH;
  input.placeholder = "Write a message\u2026";
  input.value = draft;
  const send = el("button", "send", "Send");
  send.type = "submit";
  form.append(input, send);
  panel.append(header, log, status, form);
  root.append(panel, launcher);
  shadow.append(root);

  launcher.addEventListener("click", () => on.toggle(panel.hidden));
  close.addEventListener("click", () => on.toggle(false));
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.stopPropagation();
      on.toggle(false);
    }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  input.addEventListener("input", () => on.draft(input.value));
  return host;
}

function submit(): void {
  const text = input.value;
  if (!text.trim()) return;
  input.value = "";
  on.send(text);
}

/**
 * Adds to the conversation: what the visitor is sending goes last; what the server has goes
 * before the message `before` where one is named, else before the messages still unsent, so
 * those stay at the end and the rest keeps its order.
 */
function place(node: HTMLElement, unsent: boolean, before?: string): void {
  empty.remove();
  log.insertBefore(node, (before && bubbles.get(before)) || (unsent ? null : log.querySelector(".sending,.failed")));
}

/** Whether a message is shown. */
export const known = (id: string): boolean => bubbles.has(id);

/**
 * Shows a message, or updates its bubble: sending, failed (with a Retry button) or delivered;
 * a new one from the server goes before the message `before` where one is named.
 */
export function show(message: Message, pending?: "sending" | "failed", detail?: string, before?: string): void {
  let bubble = bubbles.get(message.id);
  if (!bubble) {
    bubble = el("div");
    place(bubble, !!pending, before);
    bubbles.set(message.id, bubble);
  }
  bubble.className = `msg ${message.role}${pending ? ` ${pending}` : ""}`;
  const text = el("div", "", message.text);
  text.dir = "auto";
  bubble.textContent = "";
  // A person of the team, named for everyone (screen readers read the label first).
  if (message.role === "agent") bubble.append(el("span", "who", "Agent"));
  bubble.append(text);
  if (pending === "sending") bubble.append(el("span", "note", "Sending\u2026"));
  if (pending === "failed") {
    bubble.append(el("span", "note", `Not sent. ${detail ?? ""}`));
    const retry = el("button", "retry", "Retry");
    retry.type = "button";
    retry.addEventListener("click", () => {
      on.retry();
      input.focus();
    });
    bubble.append(retry);
  }
  log.scrollTop = log.scrollHeight;
}

/**
 * The bubble shown under a local id now belongs to the server's id for the message, unless
 * the history read back after a reload already shows that message: then the local one goes.
 */
export function rekey(from: string, to: string): void {
  const local = bubbles.get(from)!;
  bubbles.delete(from);
  if (bubbles.has(to)) local.remove();
  else bubbles.set(to, local);
}

/** A line in the conversation between messages ("A new conversation started"). */
export function note(text: string): void {
  place(el("p", "sep", text), false);
}

/** The line under the conversation ("" hides it). */
export function setStatus(text: string): void {
  status.textContent = text;
}

export function setPanelOpen(open: boolean): void {
  panel.hidden = !open;
  root.classList.toggle("open", open);
  launcher.setAttribute("aria-expanded", String(open));
}

/** Focus to the message box where the panel is open, back to the launcher where it is closed. */
export function focusView(open: boolean): void {
  (open ? input : launcher).focus();
}
