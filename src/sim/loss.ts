import type { Random } from "../core/util/random.js";

/** Random loss applied to each packet entering a link. */
export type LossModel =
  { kind: "none" } | { kind: "bernoulli"; p: number } | ({ kind: "gilbertElliott" } & GilbertElliottParams);

/**
 * Two-state Markov loss (Gilbert–Elliott). Per packet the current state decides the loss
 * probability, then the state may change. Mean burst length in the bad state is 1 / pBadToGood.
 */
export interface GilbertElliottParams {
  pGoodToBad: number;
  pBadToGood: number;
  lossInGood: number;
  lossInBad: number;
}

export const noLoss: LossModel = { kind: "none" };

export function bernoulli(p: number): LossModel {
  checkProbability(p, "p");
  return { kind: "bernoulli", p };
}

export function gilbertElliott(params: GilbertElliottParams): LossModel {
  for (const [name, value] of Object.entries(params)) checkProbability(value as number, name);
  return { kind: "gilbertElliott", ...params };
}

/** long-run loss rate of a model */
export function averageLossRate(model: LossModel): number {
  switch (model.kind) {
    case "none":
      return 0;
    case "bernoulli":
      return model.p;
    case "gilbertElliott": {
      const total = model.pGoodToBad + model.pBadToGood;
      const badShare = total === 0 ? 0 : model.pGoodToBad / total;
      return badShare * model.lossInBad + (1 - badShare) * model.lossInGood;
    }
  }
}

/** The running state of a loss model (the Gilbert–Elliott state survives model parameter changes). */
export class LossProcess {
  private bad = false;

  constructor(
    private model: LossModel,
    private readonly rng: Random,
  ) {}

  get current(): LossModel {
    return this.model;
  }

  set(model: LossModel): void {
    this.model = model;
  }

  shouldDrop(): boolean {
    const model = this.model;
    switch (model.kind) {
      case "none":
        return false;
      case "bernoulli":
        return this.rng.chance(model.p);
      case "gilbertElliott": {
        const drop = this.rng.chance(this.bad ? model.lossInBad : model.lossInGood);
        if (this.rng.chance(this.bad ? model.pBadToGood : model.pGoodToBad)) this.bad = !this.bad;
        return drop;
      }
    }
  }
}

function checkProbability(p: number, name: string): void {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`${name} must be a probability in [0, 1], got ${p}`);
}
