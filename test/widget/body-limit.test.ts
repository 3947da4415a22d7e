import { describe, expect, it } from "vitest";
import { WIDGET_BODY_LIMIT_BYTES } from "../../src/widget/routes";
import { call, expectProblem, getConversation, startConversation } from "../support/api";

const encoder = new TextEncoder();

/** 200 pairs at every limit in plain ASCII: 188-character keys (200 with `chat-widget:`) and 50,000-character values. */
function pairsAtTheLimits(): Record<string, string> {
  const data: Record<string, string> = {};
  for (let i = 0; i < 200; i++) {
    const tag = String(i).padStart(3, "0");
    data[tag + "k".repeat(188 - tag.length)] = tag + "v".repeat(50_000 - tag.length);
  }
  return data;
}

/** A valid message body of exactly `bytes` bytes, padded out by one metadata value. */
function bodyOfSize(bytes: number): string {
  const empty = JSON.stringify({ text: "hi", data: { padding: "" } });
  const body = JSON.stringify({ text: "hi", data: { padding: "p".repeat(bytes - empty.length) } });
  if (encoder.encode(body).byteLength !== bytes) throw new Error("padding miscounted");
  return body;
}

/** The same bytes as a stream, which announces no length: the limit must be counted while reading. */
function streamOf(text: string): ReadableStream<Uint8Array> {
  const bytes = encoder.encode(text);
  const chunk = 64 * 1024;
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.byteLength) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + chunk));
      offset += chunk;
    },
  });
}

describe("widget body limit", () => {
  it("admits a message whose 200 pairs all sit at the limits", async () => {
    const conversation = await startConversation();
    const data = pairsAtTheLimits();
    const body = JSON.stringify({ text: "everything at once", data });
    expect(encoder.encode(body).byteLength).toBeLessThanOrEqual(WIDGET_BODY_LIMIT_BYTES);
    const response = await call("POST", `/v1/widget/conversations/${conversation.conversation_id}/messages`, {
      token: conversation.token,
      rawBody: body,
    });
    expect(response.status).toBe(201);
    expect(response.json.metadata.accepted).toEqual(Object.keys(data));
    expect(response.json.metadata.rejected).toEqual([]);

    const stored = (await getConversation(conversation.team.apiKey, conversation.conversation_id)).metadata;
    expect(Object.keys(stored)).toHaveLength(200);
    for (const [key, value] of Object.entries(data)) expect(stored[`chat-widget:${key}`] === value).toBe(true);
  });

  it("admits the same at the start of a conversation", async () => {
    const conversation = await startConversation({ data: pairsAtTheLimits() });
    expect(conversation.metadata.accepted).toHaveLength(200);
  });

  it("admits a body of exactly the limit", async () => {
    const conversation = await startConversation();
    const response = await call("POST", `/v1/widget/conversations/${conversation.conversation_id}/messages`, {
      token: conversation.token,
      rawBody: bodyOfSize(WIDGET_BODY_LIMIT_BYTES),
    });
    expect(response.status).toBe(201);
    // The padding is far over 50,000 characters: refused as a pair, the message kept.
    expect(response.json.metadata.rejected).toEqual([{ key: "padding", reason: "value_too_long" }]);
  });

  it("refuses a body one byte over the limit with 413", async () => {
    const conversation = await startConversation();
    const response = await call("POST", `/v1/widget/conversations/${conversation.conversation_id}/messages`, {
      token: conversation.token,
      rawBody: bodyOfSize(WIDGET_BODY_LIMIT_BYTES + 1),
    });
    const problem = expectProblem(response, 413);
    expect(problem.limit_bytes).toBe(WIDGET_BODY_LIMIT_BYTES);
    const messages = await call("GET", `/v1/widget/conversations/${conversation.conversation_id}/messages`, { token: conversation.token });
    expect(messages.json.messages).toEqual([]);
  });

  it("refuses an oversized stream with no length, before parsing it", async () => {
    const conversation = await startConversation();
    // Not JSON at all: a 400 would mean it had been parsed.
    const response = await call("POST", `/v1/widget/conversations/${conversation.conversation_id}/messages`, {
      token: conversation.token,
      rawBody: streamOf("x".repeat(WIDGET_BODY_LIMIT_BYTES + 1)),
    });
    expectProblem(response, 413);
  });

  it("admits a stream with no length within the limit, read once and parsed", async () => {
    const conversation = await startConversation();
    const response = await call("POST", `/v1/widget/conversations/${conversation.conversation_id}/messages`, {
      token: conversation.token,
      rawBody: streamOf(JSON.stringify({ text: "streamed", data: { big: "é".repeat(40_000), small: "ok" } })),
    });
    expect(response.status).toBe(201);
    expect(response.json.message.text).toBe("streamed");
    expect(response.json.metadata.accepted).toEqual(["big", "small"]);
    const stored = await getConversation(conversation.team.apiKey, conversation.conversation_id);
    expect(stored.metadata["chat-widget:big"]).toBe("é".repeat(40_000));
  });

  it("refuses by a declared Content-Length before reading", async () => {
    const conversation = await startConversation();
    const body = "{".repeat(WIDGET_BODY_LIMIT_BYTES + 1);
    const response = await call("POST", `/v1/widget/conversations/${conversation.conversation_id}/messages`, {
      token: conversation.token,
      rawBody: body,
      headers: { "Content-Length": String(body.length) },
    });
    expectProblem(response, 413);
  });

  it("applies to starting a conversation too", async () => {
    const response = await call("POST", "/v1/widget/conversations", { rawBody: streamOf(" ".repeat(WIDGET_BODY_LIMIT_BYTES + 1)) });
    expectProblem(response, 413);
  });
});
