/**
 * `send.updateDestination`/`send.setSendRate` reach a live connection through
 * SenderEndpoint.reconfigure: a new rate control method must replace the controller at once.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_CONNECTION_CONFIG } from "../../src/core/transport/connection.js";
import { SenderEndpoint } from "../../src/core/endpoint/sender.js";
import { ReceiverEndpoint } from "../../src/core/endpoint/receiver.js";

const local = { serverId: null, serverUid: null };

function connected(): SenderEndpoint {
  // the endpoint and its connection start from one config object, as the server builds them
  const config = { ...DEFAULT_CONNECTION_CONFIG, rateControlMethod: "adaptive" as const };
  const tx = new SenderEndpoint({ config, local, randomBytes: (n) => new Uint8Array(n).fill(7) });
  const rx = new ReceiverEndpoint({ config: { ...DEFAULT_CONNECTION_CONFIG }, local });
  tx.connect(0);
  rx.handleDatagram(1000, tx.pollTransmit(0)!, "10.0.0.1:5000");
  for (let out = rx.pollTransmit(1000); out; out = rx.pollTransmit(1000))
    tx.handleDatagram(2000, out.datagram);
  assert.equal(tx.state, "connected");
  return tx;
}

test("a new rate control method replaces the live connection's controller at once", () => {
  const tx = connected();
  assert.equal(tx.connection!.rateController.method, "adaptive");
  tx.reconfigure({ rateControlMethod: "fixed", sendRate: 125_000 });
  assert.equal(tx.connection!.rateController.method, "fixed");
  assert.equal(tx.connection!.pacingRate(), 125_000);
  tx.reconfigure({ rateControlMethod: "background" });
  assert.equal(tx.connection!.rateController.method, "background");
});

test("a new rate with the same method keeps the controller and applies the bounds", () => {
  const tx = connected();
  const controller = tx.connection!.rateController;
  tx.reconfigure({ maxRate: 250_000 });
  assert.equal(tx.connection!.rateController, controller);
  assert.ok(tx.connection!.pacingRate() <= 250_000);
});
