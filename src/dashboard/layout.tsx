/** @jsxImportSource hono/jsx */
import type { Context } from "hono";
import type { Child } from "hono/jsx";
import type { DashboardEnv } from "./auth";

/**
 * The dashboard's page shell. Values are escaped by hono/jsx; every value a person can
 * set is shown inside an element with dir="auto" (see `Value`), so a bidi override in it
 * cannot reorder the page around it. Scripts and styles are static assets, so the CSP
 * admits no inline code at all.
 */
const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

export const PAGE_HEADERS = {
  "Content-Security-Policy": DASHBOARD_CSP,
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "same-origin",
  "Cache-Control": "no-store",
};

/** The sections of the navigation; later ones appear as their features land. */
export type Section = "conversations" | "participants" | "chatbots" | "analytics";

const NAV: { section: Section; label: string; href: string }[] = [
  { section: "conversations", label: "Conversations", href: "/dashboard/conversations" },
  { section: "participants", label: "Participants", href: "/dashboard/participants" },
  { section: "chatbots", label: "Chatbots", href: "/dashboard/chatbots" },
  { section: "analytics", label: "Analytics", href: "/dashboard/analytics" },
];

export type Viewer = { teamId: string; scope: "write" | "read" };

/** A value a person set, isolated for bidi. */
export function Value({ children }: { children: Child }) {
  return <bdi dir="auto">{children}</bdi>;
}

/** Every page's head: its title, the dashboard's stylesheet and script (no inline code). */
function Head({ title }: { title: string }) {
  return (
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="robots" content="noindex" />
      <link rel="icon" href="data:," />
      <title>{`${title} · Chat Context`}</title>
      <link rel="stylesheet" href="/dashboard.css" />
      <script src="/dashboard.js" defer />
    </head>
  );
}

/** A list's paging: back to the first page (keeping the filters) and on to the next, where there is one. */
export function Pager({ keep, cursor, nextHref }: { keep: URLSearchParams; cursor: string | undefined; nextHref: string | null }) {
  return (
    <nav class="pager" aria-label="Pages">
      {cursor ? <a href={`?${keep}`}>First page</a> : null}
      {nextHref ? <a href={nextHref}>Next page</a> : null}
    </nav>
  );
}

/** A page without navigation (sign-in, session ended). */
export function Bare({ title, children }: { title: string; children: Child }) {
  return (
    <html lang="en">
      <Head title={title} />
      <body class="bare">
        <main>{children}</main>
      </body>
    </html>
  );
}

/** A signed-in page: skip link, header with navigation and sign-out, then the page's main. */
export function Layout({ title, current, viewer, children }: { title: string; current: Section; viewer: Viewer; children: Child }) {
  return (
    <html lang="en">
      <Head title={title} />
      <body data-scope={viewer.scope}>
        <a class="skip" href="#main">
          Skip to content
        </a>
        <header class="top">
          <p class="brand">Chat Context</p>
          <nav aria-label="Main">
            <ul>
              {NAV.map((item) => (
                <li>
                  <a href={item.href} aria-current={item.section === current ? "page" : undefined}>
                    {item.label}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
          {viewer.scope === "read" ? <p class="badge">Read-only key</p> : null}
          <form method="post" action="/dashboard/logout" class="logout">
            <button type="submit">Sign out</button>
          </form>
        </header>
        <main id="main" tabindex={-1}>
          {children}
        </main>
      </body>
    </html>
  );
}

/** A section landmark named by its heading, as the design asks of every section. */
export function Section({ id, title, children, level = 2 }: { id: string; title: string; children: Child; level?: 2 | 3 }) {
  const Heading = level === 2 ? "h2" : "h3";
  return (
    <section aria-labelledby={`${id}-heading`} id={id}>
      <Heading id={`${id}-heading`}>{title}</Heading>
      {children}
    </section>
  );
}

/** "2026-11-21 20:33 UTC": short, sortable, and the same for every viewer. */
export function formatTime(iso: string | null): string {
  if (!iso) return "";
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

/**
 * The 404 page for an id the team has no such thing by: a missing id, junk and another
 * team's answer the same page, with a link back to the section.
 */
export function notFoundPage(
  c: Context<DashboardEnv>,
  page: { thing: "Chatbot" | "Conversation" | "Participant"; current: Section; back: { href: string; label: string } },
) {
  return c.html(
    <Layout title={`${page.thing} not found`} current={page.current} viewer={c.var.viewer}>
      <h1>{page.thing} not found</h1>
      <p>There is no {page.thing.toLowerCase()} with that id in your team.</p>
      <p>
        <a href={page.back.href}>{page.back.label}</a>
      </p>
    </Layout>,
    404,
    PAGE_HEADERS,
  );
}
