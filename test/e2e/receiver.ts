// A webhook receiver on loopback for the e2e suite: a real HTTP server (node:http) that
// records every request and answers as the test says.
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { inject } from "vitest";

declare module "vitest" {
  export interface ProvidedContext {
    webhookVars: Record<string, string>;
  }
}

/** The webhook variables the suite's server runs with (test/browser/global-setup.mjs). */
export const WEBHOOK_VARS = inject("webhookVars");

export type Received = { headers: Record<string, string>; body: string; at: number };

/** What to do with the request numbered `index` (0 for the first): a status, or "hang" to never answer. */
export type Answer = (index: number, received: Received) => number | "hang";

export type Receiver = {
  url: string;
  received: Received[];
  close: () => Promise<void>;
};

function flatHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers))
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(", ") : value;
  return flat;
}

export async function startReceiver(answer: Answer = () => 200): Promise<Receiver> {
  const received: Received[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const entry = { headers: flatHeaders(request.headers), body: Buffer.concat(chunks).toString("utf8"), at: Date.now() };
      received.push(entry);
      const what = answer(received.length - 1, entry);
      // Never answered: the socket stays open until `close` destroys it.
      if (what === "hang") return;
      response.writeHead(what, { "Content-Type": "text/plain" }).end(what >= 200 && what < 300 ? "ok" : "no");
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A loopback URL where nothing listens: a port the kernel gave out and that was closed at once. */
export async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/hook`;
}
