/**
 * Visitor ids are issued by the server and signed, so no client-chosen value ever
 * selects an existing participant: `<identifier>.<signature>`, where the identifier
 * (`vis_…`, the anonymous participant's identifier) is signed with TOKEN_SECRET for
 * one chatbot. 74 characters, within the contract's 128.
 */
import { signText, verifyTextSignature } from "../shared/auth";
import { newId } from "../shared/ids";

const signed = (chatbotId: string, identifier: string) => `visitor:${chatbotId}:${identifier}`;

export async function issueVisitorId(secret: string | undefined, chatbotId: string): Promise<{ visitorId: string; identifier: string }> {
  const identifier = newId("vis");
  return { visitorId: `${identifier}.${await signText(secret, signed(chatbotId, identifier))}`, identifier };
}

/** The identifier a genuine visitor id of this chatbot carries, or null for anything else. */
export async function verifyVisitorId(secret: string | undefined, chatbotId: string, visitorId: string): Promise<string | null> {
  const match = /^(vis_[0-9a-z]{26})\.([A-Za-z0-9_-]{43})$/.exec(visitorId);
  if (!match) return null;
  return (await verifyTextSignature(secret, signed(chatbotId, match[1]!), match[2]!)) ? match[1]! : null;
}
