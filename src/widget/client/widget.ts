// The embeddable widget: `<script src="https://HOST/widget.js" data-chatbot-id="..." async></script>`.
// Built by scripts/build.mjs into dist/assets/widget.js (see docs/widget.md). This file only
// wires the parts: the state (session.ts), the API client (api.ts), the view (view.ts), the
// conversation's messages with their custom data (outbox.ts) and its live updates (live.ts).
import { configureApi } from "./api";
import { nudge } from "./live";
import { warn } from "./log";
import { loadHistory, pump, submit } from "./outbox";
import { announce, openSession, save, state } from "./session";
import { createView, focusView, setPanelOpen } from "./view";

function boot(script: HTMLScriptElement): void {
  const chatbotId = script.getAttribute("data-chatbot-id") ?? "";
  if (!chatbotId) {
    warn("the script tag needs a data-chatbot-id attribute");
    return;
  }
  const registry = window as unknown as Record<string, unknown>;
  const flag = `__chatContext:${chatbotId}`;
  if (registry[flag]) return; // the same chatbot's script included twice
  registry[flag] = true;

  configureApi(new URL(script.src, location.href).origin, () => state.token);
  openSession(chatbotId, script.hasAttribute("data-expose-conversation"));
  const host = createView(script.getAttribute("data-title") || "Chat", typeof state.draft === "string" ? state.draft : "", {
    toggle: (open) => setOpen(open, true),
    send: submit,
    draft(text) {
      state.draft = text;
      save();
    },
    retry: () => void pump(),
  });

  function setOpen(open: boolean, focus: boolean): void {
    setPanelOpen(open);
    state.open = open;
    save();
    if (open) {
      void loadHistory();
      nudge();
    }
    if (focus) focusView(open);
  }

  const mount = () => {
    document.body.append(host);
    if (state.open || script.hasAttribute("data-open")) setOpen(true, false);
    else announce();
  };
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
}

try {
  const script =
    (document.currentScript as HTMLScriptElement | null) ?? document.querySelector<HTMLScriptElement>("script[data-chatbot-id]");
  if (script) boot(script);
} catch (error) {
  // Never let the widget break the host page.
  warn("the widget could not start:", error);
}
