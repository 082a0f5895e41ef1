import type { z } from "zod";
import type { MethodSpec } from "../schema/define.js";
import { parseParams } from "../schema/validate.js";
import type { MethodContext } from "./context.js";

export type MethodHandler<P, R> = (params: P, ctx: MethodContext) => R | Promise<R>;

/** A method ready for dispatch: `prepare` validates the params and returns the call to run. */
export interface RegisteredMethod {
  readonly spec: MethodSpec;
  prepare(rawParams: unknown): (ctx: MethodContext) => Promise<unknown>;
}

/**
 * The methods a server answers. Add a method by giving its schema entry and its handler; the
 * handler receives validated params with defaults applied. `…Async` forms need no registration.
 */
export class MethodRegistry {
  private readonly methods = new Map<string, RegisteredMethod>();

  add<N extends string, P extends z.ZodTypeAny, R extends z.ZodTypeAny>(
    spec: MethodSpec<N, P, R>,
    handler: MethodHandler<z.output<P>, z.input<R>>,
  ): this {
    if (this.methods.has(spec.name)) throw new Error(`method ${spec.name} is already registered`);
    if (spec.name.endsWith("Async"))
      throw new Error(`method ${spec.name}: names ending in Async are reserved`);
    this.methods.set(spec.name, {
      spec,
      prepare(rawParams: unknown) {
        const parsed = parseParams(spec.params, rawParams);
        return async (ctx: MethodContext) => handler(parsed, ctx);
      },
    });
    return this;
  }

  get(name: string): RegisteredMethod | undefined {
    return this.methods.get(name);
  }

  has(name: string): boolean {
    return this.methods.has(name);
  }

  names(): string[] {
    return [...this.methods.keys()];
  }

  specs(): MethodSpec[] {
    return [...this.methods.values()].map((m) => m.spec);
  }
}
