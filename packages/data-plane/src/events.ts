/**
 * A component's events, typed: who emits them knows no listener, and a listener gets the
 * event it listens to. So the agent and the outbox tell the executor what the control
 * plane answered without holding it. Listeners run at once and in order, as a call would:
 * one that throws throws in the emitter.
 */
export class Events<Map extends { [Name in keyof Map]: unknown }> {
  readonly #listeners: { [Name in keyof Map]?: Array<(event: Map[Name]) => void> } = {};

  on<Name extends keyof Map>(name: Name, listener: (event: Map[Name]) => void): void {
    const listeners = this.#listeners[name] ?? [];
    listeners.push(listener);
    this.#listeners[name] = listeners;
  }

  emit<Name extends keyof Map>(name: Name, event: Map[Name]): void {
    for (const listener of this.#listeners[name] ?? []) listener(event);
  }
}
