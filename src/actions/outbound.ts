/**
 * The only network an action has: its isolate's `fetch` arrives here (globalOutbound), and
 * goes on only to a host the action allows, over https (plain http to loopback only under
 * ALLOW_LOCAL_WEBHOOKS=true), never to a private or reserved address, never following a
 * redirect to somewhere else.
 */
import { WorkerEntrypoint } from "cloudflare:workers";
import { checkWebhookUrl } from "../webhooks/url-rules";

export type OutboundProps = { allowedHosts: string[]; allowLocal: boolean };

/** Why `url` may not be fetched by an action allowing `allowedHosts`, or null. */
export function outboundRefusal(url: string, { allowedHosts, allowLocal }: OutboundProps): string | null {
  const verdict = checkWebhookUrl(url, allowLocal);
  if (!verdict.ok) return `fetch(${JSON.stringify(url.slice(0, 200))}) refused: the URL ${verdict.reason}.`;
  const host = verdict.url.host.toLowerCase();
  if (!allowedHosts.includes(host)) {
    return `fetch to ${host} refused: the action's allowed_hosts are ${allowedHosts.length > 0 ? allowedHosts.join(", ") : "empty"}.`;
  }
  return null;
}

export class ActionOutbound extends WorkerEntrypoint<Env, OutboundProps> {
  override async fetch(request: Request): Promise<Response> {
    const refusal = outboundRefusal(request.url, this.ctx.props);
    if (refusal) throw new Error(refusal);
    return fetch(new Request(request, { redirect: "manual" }));
  }
}
