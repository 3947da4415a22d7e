/** Runs every behaviour whose element is on the page. Page behaviours are added by their modules. */
export type Behaviour = { selector: string; run: (element: HTMLElement) => void };

const behaviours: Behaviour[] = [];

export function register(behaviour: Behaviour): void {
  behaviours.push(behaviour);
}

export function enhanceAll(root: ParentNode): void {
  for (const { selector, run } of behaviours) for (const element of root.querySelectorAll<HTMLElement>(selector)) run(element);
}
