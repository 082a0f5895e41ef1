import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type {
  AckEvent,
  ControllerConfig,
  LossEvent,
  RateControlMethod,
  RateController,
} from "../../src/core/congestion/controller.js";
import { createController, RATE_CONTROL_METHODS } from "../../src/core/congestion/index.js";
import { LinkModel, MBIT, MS } from "./link-model.js";

const MSS = 1400;

/** Wraps a controller and checks the bounds after every event it receives. */
class BoundsChecker implements RateController {
  readonly method: RateControlMethod;
  readonly active: boolean;
  checks = 0;
  constructor(
    readonly inner: RateController,
    public min: number,
    public max: number,
  ) {
    this.method = inner.method;
    this.active = inner.active;
  }
  pacingRate(): number {
    return this.inner.pacingRate();
  }
  congestionWindow(): number {
    return this.inner.congestionWindow();
  }
  onPacketSent(now: number, bytes: number, inFlight: number): void {
    this.inner.onPacketSent(now, bytes, inFlight);
    this.check();
  }
  onAck(ev: AckEvent): void {
    this.inner.onAck(ev);
    this.check();
  }
  onLoss(ev: LossEvent): void {
    this.inner.onLoss(ev);
    this.check();
  }
  setRates(sendRate: number, minRate: number, maxRate: number): void {
    this.min = Math.min(minRate, maxRate);
    this.max = maxRate;
    this.inner.setRates(sendRate, minRate, maxRate);
    this.check();
  }
  stateName(): string {
    return this.inner.stateName();
  }
  private check(): void {
    this.checks++;
    const rate = this.inner.pacingRate();
    assert.ok(
      rate >= this.min && rate <= this.max,
      `${this.method}: pacing ${rate} not in [${this.min}, ${this.max}]`,
    );
    assert.ok(this.inner.congestionWindow() >= 4 * MSS, `${this.method}: window below 4 datagrams`);
  }
}

function config(sendRate: number, minRate: number, maxRate: number): ControllerConfig {
  return { maxDatagramSize: MSS, sendRate, minRate, maxRate };
}

describe("rate bounds (all methods)", () => {
  for (const method of RATE_CONTROL_METHODS) {
    it(`${method}: pacing stays within [min, max] and setRates applies at once`, () => {
      const link = new LinkModel({
        capacity: 100 * MBIT,
        baseRtt: 20 * MS,
        bufferBytes: 250_000,
        randomLoss: 0.01,
      });
      const checker = new BoundsChecker(
        createController(method, config(10 * MBIT, 1 * MBIT, 30 * MBIT)),
        1 * MBIT,
        30 * MBIT,
      );
      link.addFlow(checker, MSS);
      link.run(2_000 * MS);

      checker.setRates(10 * MBIT, 1 * MBIT, 5 * MBIT);
      assert.ok(checker.pacingRate() <= 5 * MBIT);
      link.run(3_000 * MS);

      // a floor above what the controller would choose on its own, on a congested link
      link.capacity = 20 * MBIT;
      checker.setRates(10 * MBIT, 40 * MBIT, 60 * MBIT);
      assert.ok(checker.pacingRate() >= 40 * MBIT);
      link.run(5_000 * MS);
      assert.ok(checker.pacingRate() >= 40 * MBIT);

      // a lowered maximum (receiver cap) wins over the minimum
      checker.setRates(10 * MBIT, 40 * MBIT, 2 * MBIT);
      assert.ok(checker.pacingRate() <= 2 * MBIT);
      link.run(6_000 * MS);
      assert.ok(checker.checks > 1000);
    });

    it(`${method}: starts at sendRate, clamped`, () => {
      assert.equal(createController(method, config(10 * MBIT, 1 * MBIT, 100 * MBIT)).pacingRate(), 10 * MBIT);
      assert.equal(createController(method, config(10 * MBIT, 1 * MBIT, 4 * MBIT)).pacingRate(), 4 * MBIT);
      assert.equal(
        createController(method, config(10 * MBIT, 20 * MBIT, 100 * MBIT)).pacingRate(),
        20 * MBIT,
      );
    });
  }

  it("only fixed is inactive", () => {
    for (const method of RATE_CONTROL_METHODS) {
      const c = createController(method, config(10 * MBIT, 1 * MBIT, 100 * MBIT));
      assert.equal(c.method, method);
      assert.equal(c.active, method !== "fixed");
      assert.ok(c.stateName().length > 0);
    }
  });
});
