// The chatbot page's "Add a webhook" form: POST /v1/webhooks for this chatbot, the signing
// secret shown this once (with the copy button of chatbots.ts), and the list swapped in as
// the server now renders it. Deleting is the confirm step of writes.ts.
import { register } from "./enhance";
import { clearErrors, onSubmit, refreshParts, send, setStatus, showProblem, statusOf } from "./writes";

register({
  selector: "form[data-webhook-create]",
  run: (element) => {
    const form = element as HTMLFormElement;
    const chatbotId = form.closest<HTMLElement>("[data-chatbot-id]")?.dataset.chatbotId ?? "";
    const url = form.querySelector<HTMLInputElement>("input[name=url]")!;
    onSubmit(form, async () => {
      const events = [...form.querySelectorAll<HTMLInputElement>("input[name=events]:checked")].map((box) => box.value);
      const answer = await send("POST", "/v1/webhooks", { url: url.value.trim(), events, chatbot_id: chatbotId });
      if (answer.status !== 201 || typeof answer.body.secret !== "string") return showProblem(form, answer);
      clearErrors(form);
      url.value = "";
      const output = document.getElementById("webhook-secret-output");
      const value = document.getElementById("webhook-secret-value");
      if (output && value) {
        value.textContent = answer.body.secret;
        output.hidden = false;
        setStatus(output.querySelector<HTMLElement>(".copyable > .form-status"), "");
        // Straight to what must be done now: copy the secret, which is never shown again.
        output.querySelector<HTMLButtonElement>("button[data-copy]")?.focus();
      }
      setStatus(statusOf(form), "Webhook added. Copy its secret below.", "ok");
      const section = form.closest("section");
      const refreshed = section ? await refreshParts(section) : false;
      if (refreshed) setStatus(statusOf(form), "Webhook added: it is listed above. Copy its secret below.", "ok");
    });
  },
});
