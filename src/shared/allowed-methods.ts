import type { RouterRoute } from "hono/types";

/**
 * For a 405 answer: given the app's routes, a function from a path to the methods its
 * routes serve (empty where no route has that path). Middleware (`use`, method ALL)
 * serves no method of its own and is left out; HEAD is served wherever GET is.
 */
export function allowedMethods(routes: readonly RouterRoute[]): (path: string) => string[] {
  const byPattern = new Map<string, { pattern: RegExp; methods: Set<string> }>();
  for (const route of routes) {
    if (route.method === "ALL") continue;
    let entry = byPattern.get(route.path);
    if (!entry) {
      const source = route.path
        .split("/")
        .map((part) => (part.startsWith(":") ? "[^/]+" : part === "*" ? ".*" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
        .join("/");
      entry = { pattern: new RegExp(`^${source}$`), methods: new Set() };
      byPattern.set(route.path, entry);
    }
    entry.methods.add(route.method);
    if (route.method === "GET") entry.methods.add("HEAD");
  }
  return (path) => {
    const methods = new Set<string>();
    for (const { pattern, methods: served } of byPattern.values()) if (pattern.test(path)) for (const method of served) methods.add(method);
    return [...methods].sort();
  };
}
