// The chatbot page's "Add a trigger" form: shows the fields the chosen event and action
// take, sends POST /v1/chatbots/:id/triggers, shows the API's problems by pointer, then
// swaps in the list as the server now renders it. Deleting is the confirm step of writes.ts.
import { register } from "./enhance";
import { clearErrors, onSubmit, refreshParts, send, setStatus, showLocalError, showProblem, statusOf } from "./writes";

function chatbotIdOf(element: Element): string {
  return element.closest<HTMLElement>("[data-chatbot-id]")?.dataset.chatbotId ?? "";
}

/** A number field's value: undefined where empty, NaN where it is not a whole number. */
function wholeNumber(input: HTMLInputElement): number | undefined {
  const text = input.value.trim();
  if (text === "") return input.validity.badInput ? Number.NaN : undefined;
  return /^-?\d+$/.test(text) ? Number(text) : Number.NaN;
}

register({
  selector: "form[data-trigger-create]",
  run: (element) => {
    const form = element as HTMLFormElement;
    const id = chatbotIdOf(form);
    const on = form.querySelector<HTMLSelectElement>("select[name=on]")!;
    const type = form.querySelector<HTMLSelectElement>("select[name=action_type]")!;
    const delay = form.querySelector<HTMLInputElement>("input[name=delay_seconds]")!;
    const maxFires = form.querySelector<HTMLInputElement>("input[name=max_fires]")!;
    const text = form.querySelector<HTMLTextAreaElement>("textarea[name=text]")!;
    const patch = form.querySelector<HTMLTextAreaElement>("textarea[name=patch]")!;
    const actionId = form.querySelector<HTMLInputElement>("input[name=action_id]")!;

    // Only the fields that apply are shown (and only they are sent).
    const showApplicable = () => {
      for (const part of form.querySelectorAll<HTMLElement>("[data-shown-for]")) part.hidden = part.dataset.shownFor !== on.value;
      for (const part of form.querySelectorAll<HTMLElement>("[data-shown-for-action]"))
        part.hidden = part.dataset.shownForAction !== type.value;
    };
    on.addEventListener("change", showApplicable);
    type.addEventListener("change", showApplicable);
    showApplicable();

    onSubmit(form, async () => {
      const body: Record<string, unknown> = { on: on.value };
      if (on.value === "conversation_inactive") {
        const seconds = wholeNumber(delay);
        if (Number.isNaN(seconds)) return showLocalError(form, delay, "Give a whole number of seconds.");
        if (seconds !== undefined) body.delay_seconds = seconds;
      }
      const fires = wholeNumber(maxFires);
      if (Number.isNaN(fires)) return showLocalError(form, maxFires, "Give a whole number.");
      if (fires !== undefined) body.max_fires = fires;
      const action: Record<string, unknown> = { type: type.value };
      if (type.value === "send_message") action.text = text.value;
      if (type.value === "run_action") action.action_id = actionId.value.trim();
      if (type.value === "update_participant_data") {
        try {
          action.patch = JSON.parse(patch.value);
        } catch (error) {
          return showLocalError(form, patch, `Not valid JSON: ${(error as Error).message}`);
        }
      }
      body.action = action;
      const answer = await send("POST", `/v1/chatbots/${encodeURIComponent(id)}/triggers`, body);
      if (answer.status !== 201) return showProblem(form, answer);
      clearErrors(form);
      text.value = "";
      const section = form.closest("section");
      const refreshed = section ? await refreshParts(section) : false;
      setStatus(
        statusOf(form),
        refreshed ? "Trigger added: it is listed above." : "Trigger added. Reload the page to see it listed.",
        "ok",
      );
    });
  },
});
